#!/usr/bin/env python3
"""Reads or edits one cell of a workbook row found by its `id` column, as a person saving
in a spreadsheet app would (openpyxl, saved in place).

edit_workbook.py BOOK SHEET ID COLUMN [VALUE]   -> prints the cell, or sets it and saves
"""
import sys

import openpyxl

book, sheet, rid, column = sys.argv[1:5]
wb = openpyxl.load_workbook(book)
ws = wb[sheet]
header = [c.value for c in ws[1]]
id_col, col = header.index("id") + 1, header.index(column) + 1
for row in range(2, ws.max_row + 1):
    if str(ws.cell(row, id_col).value) == rid:
        if len(sys.argv) > 5:
            ws.cell(row, col).value = sys.argv[5]
            wb.save(book)
        else:
            print(ws.cell(row, col).value or "")
        sys.exit(0)
sys.exit(f"no row with id {rid} in {sheet}")
