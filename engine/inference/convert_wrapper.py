"""Run llama.cpp's ``convert_hf_to_gguf.py`` with an optional pre-tokenizer fallback.

Started by :mod:`engine.inference.gguf_convert` as ``python convert_wrapper.py LLAMA_CPP_DIR
FALLBACK -- CONVERTER_ARGS...``; it imports nothing from the workbench, so it runs in any
interpreter that has torch, numpy and sentencepiece.

Why the fallback exists: the converter identifies a BPE tokenizer's pre-tokenizer (the
regular expression that splits text before the BPE merges) by hashing the token ids of a
fixed probe text and comparing the hash with a list of published models. A tokenizer
trained locally, as the tests' tiny models are, has a hash nobody published, and the
converter raises ``NotImplementedError("BPE pre-tokenizer was not recognized")``. With a
fallback name (for example ``gpt-2`` for a byte-level BPE with GPT-2 splitting) the
wrapper patches ``TextModel.get_vocab_base_pre`` to return that name only when the hash
is unknown; recognised tokenizers keep the name the converter derives. The name must
match the tokenizer's real splitting rules, otherwise llama.cpp tokenizes differently
from the original model.
"""

import sys
from pathlib import Path


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[2] != "--":
        sys.exit("usage: convert_wrapper.py LLAMA_CPP_DIR FALLBACK|- -- CONVERTER_ARGS...")
    converter_dir = Path(argv[0])
    fallback = None if argv[1] == "-" else argv[1]
    sys.path.insert(0, str(converter_dir))
    sys.path.insert(1, str(converter_dir / "gguf-py"))

    import convert_hf_to_gguf  # noqa: PLC0415 - importable only after the path change

    if fallback is not None:
        from conversion.base import TextModel  # noqa: PLC0415

        original = TextModel.get_vocab_base_pre

        def get_vocab_base_pre(self, tokenizer) -> str:  # noqa: ANN001
            try:
                return original(self, tokenizer)
            except NotImplementedError:
                print(f"convert_wrapper: unknown BPE pre-tokenizer hash; using '{fallback}'",
                      file=sys.stderr)
                return fallback

        TextModel.get_vocab_base_pre = get_vocab_base_pre

    sys.argv = [str(converter_dir / "convert_hf_to_gguf.py"), *argv[3:]]
    convert_hf_to_gguf.main()


if __name__ == "__main__":
    main(sys.argv[1:])
