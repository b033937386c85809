"""Batches: client lists, many clients typeset per LibreOffice run, worker pools and recovery."""
