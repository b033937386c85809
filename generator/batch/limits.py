"""How much of a client list is read: its rows and columns (shared by the CSV and the .xlsx reader)."""

MAX_ROWS = 10_000  # clients in one list: a day of packs; a longer list is refused before anything is built
MAX_COLUMNS = 256  # cells past this column are not read (the dimension a file claims is never trusted)
