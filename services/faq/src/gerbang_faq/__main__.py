"""`python -m gerbang_faq`."""

from gerbang_faq.main import main

main()
