"""Write ``analogies.txt``: word analogy questions a : b :: c : d that Jane Austen's
text (``austen.txt.xz``) supports, for judging word vectors (notes 004 "Word
representation": man : woman :: king : ?).

The pairs below are hand-chosen, by category (gender, past tense, plural,
comparative, superlative). A pair is kept when both its words occur at least
MIN_COUNT times in the corpus, tokenised as the word-vector trainer does
(nn_lib.data.words.tokenize: lower case, runs of a-z). Every ordered choice of two
different kept pairs (p, q) of a category gives the question p[0] p[1] q[0] q[1],
so a category of n pairs gives n (n - 1) questions. The output is word2vec's
questions-words format (": category" lines, then "a b c d" lines).

    python nn_lib/data/assets/make_analogies.py            # rewrites analogies.txt
    python nn_lib/data/assets/make_analogies.py -o OUT.txt  # elsewhere
"""

from __future__ import annotations

import argparse
import lzma
from collections import Counter
from pathlib import Path

from nn_lib.data import words

MIN_COUNT = 30
HERE = Path(__file__).parent

PAIRS = {
  "gender": """he:she him:her himself:herself his:her mr:mrs sir:madam
        brother:sister brothers:sisters father:mother son:daughter sons:daughters
        husband:wife man:woman men:women gentleman:lady gentlemen:ladies uncle:aunt
        nephew:niece boy:girl boys:girls master:mistress papa:mama king:queen""",
  "past_tense": """is:was are:were have:had do:did say:said go:went come:came
        know:knew think:thought see:saw take:took give:gave make:made get:got
        find:found feel:felt speak:spoke tell:told write:wrote leave:left hear:heard
        bring:brought sit:sat stand:stood run:ran walk:walked look:looked
        seem:seemed wish:wished hope:hoped talk:talked want:wanted call:called
        ask:asked turn:turned love:loved""",
  "plural": """day:days week:weeks year:years hour:hours letter:letters
        house:houses friend:friends child:children thing:things eye:eyes hand:hands
        time:times room:rooms place:places word:words family:families
        sister:sisters daughter:daughters girl:girls lady:ladies man:men
        woman:women gentleman:gentlemen""",
  "comparative": """good:better bad:worse great:greater little:less much:more
        young:younger old:older happy:happier long:longer high:higher near:nearer
        soon:sooner early:earlier late:later strong:stronger""",
  "superlative": """good:best bad:worst great:greatest little:least much:most""",
}


def kept_pairs(counts: Counter) -> dict[str, list[tuple[str, str]]]:
  """category -> its pairs whose words both occur >= MIN_COUNT times."""
  out = {}
  for cat, text in PAIRS.items():
    pairs = [tuple(p.split(":")) for p in text.split()]
    out[cat] = [(a, b) for a, b in pairs if min(counts[a], counts[b]) >= MIN_COUNT]
  return out


def questions(pairs: dict[str, list[tuple[str, str]]]) -> list[str]:
  lines = []
  for cat, ps in pairs.items():
    lines.append(f": {cat}")
    lines += [f"{a} {b} {c} {d}" for a, b in ps for c, d in ps if (a, b) != (c, d)]
  return lines


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("-o", "--output", type=Path, default=HERE / "analogies.txt")
  args = parser.parse_args()
  text = lzma.decompress((HERE / "austen.txt.xz").read_bytes()).decode("utf-8")
  counts = Counter(words.tokenize(text))
  pairs = kept_pairs(counts)
  for cat, text_pairs in PAIRS.items():
    dropped = set(text_pairs.split()) - {f"{a}:{b}" for a, b in pairs[cat]}
    print(
      f"{cat}: {len(pairs[cat])} pairs, {len(pairs[cat]) * (len(pairs[cat]) - 1)} "
      f"questions; dropped (a word under {MIN_COUNT}): {sorted(dropped)}"
    )
  lines = questions(pairs)
  args.output.write_text("\n".join(lines) + "\n")
  print(f"wrote {sum(not l.startswith(':') for l in lines)} questions to {args.output}")


if __name__ == "__main__":
  main()
