"""Documents: contexts, docxtpl rendering, LibreOffice conversion, fonts, PDF assembly, one registry of documents."""
