"""A1 ranges for a batch of cell writes, as few and as contiguous as possible.

A Sheets ``values.batchUpdate`` takes any number of ranges, but fewer, larger ranges make a
smaller request: cells next to each other in a row become one run, and rows whose runs cover
the same columns and follow each other become one block (``'Prospects'!C5:H9``). Only the cells
given are written: a block never spans a cell we did not mean to write.
"""

from __future__ import annotations

from itertools import groupby


def column_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def a1_ranges(sheet: str, cells: list[tuple[int, int, str]]) -> list[dict]:
    """``[(row 1-based, column 0-based, text)]`` -> ``[{"range": ..., "values": [[...]]}]``."""
    runs: list[tuple[int, int, int, list[str]]] = []  # (row, first col, last col, values)
    by_row = sorted(cells, key=lambda cell: (cell[0], cell[1]))
    for row, in_row in groupby(by_row, key=lambda cell: cell[0]):
        current: list[tuple[int, int, str]] = []
        for cell in in_row:
            if current and cell[1] != current[-1][1] + 1:
                runs.append((row, current[0][1], current[-1][1], [c[2] for c in current]))
                current = []
            if current and cell[1] == current[-1][1]:
                current[-1] = cell  # the same cell twice: the later value wins
                continue
            current.append(cell)
        if current:
            runs.append((row, current[0][1], current[-1][1], [c[2] for c in current]))
    data: list[dict] = []
    runs.sort(key=lambda run: (run[1], run[2], run[0]))
    for (first, last), same_cols in groupby(runs, key=lambda run: (run[1], run[2])):
        block: list[tuple[int, int, int, list[str]]] = []
        for run in same_cols:
            if block and run[0] != block[-1][0] + 1:
                data.append(_block(sheet, first, last, block))
                block = []
            block.append(run)
        data.append(_block(sheet, first, last, block))
    return data


def _block(sheet: str, first: int, last: int, block: list) -> dict:
    top, bottom = block[0][0], block[-1][0]
    span = f"{column_letters(first)}{top}:{column_letters(last)}{bottom}"
    return {"range": f"{sheet}!{span}", "values": [run[3] for run in block]}
