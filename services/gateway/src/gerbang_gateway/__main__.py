"""`python -m gerbang_gateway api|router|sender`."""

from gerbang_gateway.main import main

main()
