"""Content office staff publish from `/ops`: answers and announcements over the YAML baseline.

- `versions`: the pure steps (save a draft, publish, roll back) on a `ContentRecord`, and diffs;
- `validate`: what is refused before anything is published, with the field named;
- `view`: every process's in-memory view of the compacted `content.published` topic, which it
  applies to the office registry (`OfficeRegistry.published`) within a second of a publish;
- `transfer`: `gerbang content export` / `import` (YAML).

The YAML in `offices/` stays the baseline that seeds a deployment; what is published here wins
over it at the same level (an office's answer, then the national answer).
"""
