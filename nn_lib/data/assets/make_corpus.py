"""Rebuild ``austen.txt.xz`` (Jane Austen's six novels, the `austen_text` corpus)
from the Debian package ``r-cran-janeaustenr`` 1.0.0-1.

Get the package (any Debian mirror; 1,626,392 bytes, SHA-256
``df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95``)::

    apt-get download r-cran-janeaustenr=1.0.0-1

then run::

    python make_corpus.py r-cran-janeaustenr_1.0.0-1_all.deb
    # or the unpacked package (dpkg-deb -x ... DIR), or an installed copy:
    python make_corpus.py DIR
    python make_corpus.py /usr/lib/R/site-library/janeaustenr

What the package holds: the R package janeaustenr (Julia Silge), whose lazy-load
data base ``data/Rdata.rdb`` (index ``data/Rdata.rdx``) stores one R character
vector per novel, one element per line of the Project Gutenberg e-text with the
Gutenberg header and licence footer already removed. R is not needed: this script
reads the two files with a minimal reader of R's serialization format (XDR,
version 2 or 3; only the types these files use).

Output: the UTF-8 text, xz-compressed (preset 9e). The novels in order of
publication: Sense and Sensibility (1811), Pride and Prejudice (1813), Mansfield
Park (1814), Emma (1815), Northanger Abbey (1817), Persuasion (1817); each novel's
lines joined by "\\n", novels separated by four empty lines, a final "\\n". One
thing is removed: the e-text's closing editorial "A NOTE ON THE TEXT" after
Northanger Abbey (about a modern edition, not Austen's words).

Requires Python >= 3.9 only (the standard library).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import lzma
import struct
import tarfile
import zlib
from pathlib import Path
from typing import Any

NOVELS = (
  "sensesensibility",
  "prideprejudice",
  "mansfieldpark",
  "emma",
  "northangerabbey",
  "persuasion",
)  # R object names, publication order
SEPARATOR = "\n" * 5
EDITORIAL_NOTE = "\n\n\n\n\nA NOTE ON THE TEXT\n"
DATA_DIR = "usr/lib/R/site-library/janeaustenr/data"
DEFAULT_OUT = Path(__file__).resolve().with_name("austen.txt.xz")


class _RReader:
  """R's `unserialize` for XDR streams, for the types a lazy-load data base of
  character vectors uses: NULL, symbols, pairlists (attributes), strings, logical,
  integer, double and generic vectors. Attributes come back as dicts."""

  def __init__(self, data: bytes):
    self.data, self.pos = data, 0
    self.refs: list[tuple[str, Any]] = []  # the symbols read so far, for REFSXP

  def _int(self) -> int:
    (value,) = struct.unpack_from(">i", self.data, self.pos)
    self.pos += 4
    return value

  def _length(self) -> int:
    n = self._int()
    if n == -1:  # a long vector: two more ints
      n = (self._int() << 32) + self._int()
    return n

  def read(self):
    if self.data[:2] != b"X\n":
      raise ValueError(f"not an XDR R serialization (starts {self.data[:2]!r})")
    self.pos = 2
    version = self._int()
    self._int(), self._int()  # writer's and minimal R versions
    if version == 3:
      n = self._int()  # (not `pos += _int()`: that would add to the old pos)
      self.pos += n  # skip the native encoding's name
    return self._item()

  def _item(self):
    flags = self._int()
    kind, has_attr, has_tag = flags & 0xFF, flags & 0x200, flags & 0x400
    if kind == 254:  # NILVALUE_SXP
      return None
    if kind == 255:  # REFSXP: an earlier symbol
      index = flags >> 8 or self._int()
      return self.refs[index - 1]
    if kind == 1:  # SYMSXP
      symbol = ("symbol", self._item())
      self.refs.append(symbol)
      return symbol
    if kind == 2:  # LISTSXP (a pairlist: attributes), as {tag: value}
      if has_attr:
        self._item()
      tag = self._item()[1] if has_tag else None
      out = {tag: self._item()}
      rest = self._item()
      out.update(rest or {})
      return out
    if kind == 9:  # CHARSXP
      n = self._int()
      if n == -1:
        return None  # NA_character_
      raw = self.data[self.pos : self.pos + n]
      self.pos += n
      return raw.decode("latin-1" if flags & (1 << 14) else "utf-8")
    n = self._length()
    if kind in (10, 13):  # LGLSXP, INTSXP
      value = list(struct.unpack_from(f">{n}i", self.data, self.pos))
      self.pos += 4 * n
    elif kind == 14:  # REALSXP
      value = list(struct.unpack_from(f">{n}d", self.data, self.pos))
      self.pos += 8 * n
    elif kind in (16, 19):  # STRSXP, VECSXP
      value = [self._item() for _ in range(n)]
    else:
      raise ValueError(f"R type {kind} is not supported by this minimal reader")
    attributes = self._item() if has_attr else None
    return (value, attributes) if attributes else value


def _read_ar_member(deb: bytes, name: str) -> bytes:
  """A member of a .deb (an `ar` archive)."""
  if not deb.startswith(b"!<arch>\n"):
    raise ValueError("not a .deb (ar) archive")
  pos = 8
  while pos < len(deb):
    header = deb[pos : pos + 60]
    member, size = header[:16].decode().strip().rstrip("/"), int(header[48:58])
    if member == name:
      return deb[pos + 60 : pos + 60 + size]
    pos += 60 + size + (size % 2)
  raise ValueError(f".deb has no member {name}")


def _tar_member(tar: tarfile.TarFile, name: str) -> bytes:
  member = tar.extractfile(name)  # None: not a regular file
  if member is None:
    raise ValueError(f"{name} in the package is not a regular file")
  return member.read()


def _data_files(src: Path) -> tuple[bytes, bytes]:
  """(Rdata.rdx, Rdata.rdb) from the .deb, an unpacked package or an installed copy."""
  if src.is_file():
    payload = _read_ar_member(src.read_bytes(), "data.tar.xz")
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:xz") as tar:
      rdx, rdb = (_tar_member(tar, f"./{DATA_DIR}/Rdata.{ext}") for ext in ("rdx", "rdb"))
      return rdx, rdb
  for root in (src / DATA_DIR, src / "data", src):
    if (root / "Rdata.rdb").is_file():
      return (root / "Rdata.rdx").read_bytes(), (root / "Rdata.rdb").read_bytes()
  raise FileNotFoundError(f"no janeaustenr data/Rdata.rdb under {src}")


def novels(src: Path) -> dict[str, list[str]]:
  """R object name -> the novel's lines, as stored in the package."""
  rdx, rdb = _data_files(src)
  index, _ = _RReader(gzip.decompress(rdx)).read()
  (offsets, names), compressed = index[0], index[2]
  if compressed != [1]:
    raise ValueError(f"expected zlib-compressed objects, the index says {compressed}")
  out = {}
  for name, (offset, length) in zip(names["names"], offsets):
    blob = rdb[offset : offset + length]
    (size,) = struct.unpack(">I", blob[:4])
    data = zlib.decompress(blob[4:])
    if len(data) != size:
      raise ValueError(f"{name}: {len(data)} bytes unpacked, the header says {size}")
    lines = _RReader(data).read()
    if not all(isinstance(line, str) for line in lines):
      raise ValueError(f"{name} is not a character vector without NA")
    out[name] = lines
  return out


def build(src: Path) -> str:
  """The corpus text exactly as stored in austen.txt.xz (decoded)."""
  books = novels(src)
  missing = set(NOVELS) - set(books)
  if missing:
    raise ValueError(f"the package lacks {sorted(missing)}")
  texts = ["\n".join(books[name]) for name in NOVELS]
  northanger = NOVELS.index("northangerabbey")
  cut = texts[northanger].find(EDITORIAL_NOTE)
  if cut < 0:
    raise ValueError("Northanger Abbey's closing editorial note was not found")
  texts[northanger] = texts[northanger][:cut]
  return SEPARATOR.join(texts) + "\n"


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument(
    "source",
    type=Path,
    help="r-cran-janeaustenr_1.0.0-1_all.deb, "
    "the unpacked package, or an installed janeaustenr directory",
  )
  parser.add_argument(
    "-o",
    "--output",
    type=Path,
    default=DEFAULT_OUT,
    help=f"output .txt.xz (default: {DEFAULT_OUT.name} beside this script)",
  )
  args = parser.parse_args()
  text = build(args.source)
  raw = text.encode("utf-8")
  args.output.write_bytes(lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME))
  print(f"wrote {args.output} ({args.output.stat().st_size} bytes)")
  print(
    f"text: {len(text)} characters, {len(raw)} bytes UTF-8, {len(set(text))} distinct characters"
  )
  print("content sha256 (UTF-8 text):", hashlib.sha256(raw).hexdigest())


if __name__ == "__main__":
  main()
