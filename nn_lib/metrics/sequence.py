"""Metrics of decoded label sequences (notes 004 "CTC cost for speech recognition":
the network's output is a labelling of any length, so it is scored against the
reference as a string, not position by position).

  edit distance  d(r, h): the fewest insertions, deletions and substitutions that
                 turn the reference r into the hypothesis h (Levenshtein), by the
                 dynamic programme D[i, j] = min(D[i-1, j] + 1, D[i, j-1] + 1,
                 D[i-1, j-1] + [r_i != h_j]), D[i, 0] = i, D[0, j] = j.
  CER            character (here: symbol) error rate over a set of sequences,
                 sum_n d(r_n, h_n) / sum_n |r_n|: total edits per reference symbol,
                 so long references weigh more (not a mean of per-sequence rates).
                 It can exceed 1 (a hypothesis with many insertions).
  seq accuracy   the fraction of sequences whose hypothesis equals the reference.

Host-side Python on variable-length sequences (the hypotheses of a CTC decoder have
lengths only known after decoding).
"""

from __future__ import annotations

from collections.abc import Sequence


def edit_distance(ref: Sequence[int], hyp: Sequence[int]) -> int:
  """Levenshtein distance between two label sequences (module docstring), O(|r| |h|)
  keeping one row D[i, .] of the table at a time."""
  hyp = [int(h) for h in hyp]
  row = list(range(len(hyp) + 1))  # D[0, j] = j
  for i, r in enumerate(ref, start=1):
    new = [i]  # D[i, 0] = i
    for j, h in enumerate(hyp, start=1):
      new.append(
        min(
          row[j] + 1,  # delete r_i
          new[j - 1] + 1,  # insert h_j
          row[j - 1] + (int(r) != h),
        )
      )  # substitute (or match)
    row = new
  return row[-1]


def sequence_scores(
  refs: Sequence[Sequence[int]], hyps: Sequence[Sequence[int]]
) -> dict[str, float]:
  """{"seq_accuracy", "cer"} of hypotheses against references (module docstring).
  Also returns "edits" and "ref_symbols", the sums behind "cer", so that callers can
  pool several sets."""
  if len(refs) != len(hyps):
    raise ValueError(f"sequence_scores: {len(refs)} references but {len(hyps)} hypotheses")
  if not refs:
    raise ValueError("sequence_scores needs at least one sequence")
  edits = sum(edit_distance(r, h) for r, h in zip(refs, hyps))
  symbols = sum(len(r) for r in refs)
  if symbols == 0:
    raise ValueError("sequence_scores: every reference is empty; the CER is undefined")
  exact = sum(list(r) == list(h) for r, h in zip(refs, hyps))
  return {
    "seq_accuracy": exact / len(refs),
    "cer": edits / symbols,
    "edits": float(edits),
    "ref_symbols": float(symbols),
  }
