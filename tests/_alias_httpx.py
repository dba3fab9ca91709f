"""pytest plugin loaded first (-p tests._alias_httpx): make respx intercept httpx2 traffic.

anthropic 2.x and mcp 2.x speak httpx2; respx patches ``httpx``. Aliasing before anything imports
httpx lets respx mocks see the SDKs' requests (mcp-anthropic-evals.md §2.7).
"""

import httpx2

httpx2.alias_httpx()
