"""Context builder edge cases found by a defect hunt: the approximate token count of non-Latin scripts and emoji
(the budget of every model without a tokenizer, e.g. an OpenAI-compatible server)."""

from __future__ import annotations

import pytest

from agentkit import DecodingSettings, UserMessage
from agentkit.context import ContextBuilder, ContextOverflow, approximate_tokens
from agentkit.testing import ScriptedModel

SAMPLES = {
    "japanese": "日本語のテキストです。" * 20,
    "chinese": "中文文本测试，这是一个句子。" * 20,
    "korean": "안녕하세요 반갑습니다 " * 10,
    "thai": "สวัสดีครับ ยินดีที่ได้รู้จัก " * 10,
    "hindi": "नमस्ते आप कैसे हैं " * 10,
    "greek": "Ελληνικά κείμενα για δοκιμή " * 10,
    "russian": "Привет, как дела? " * 10,
    "arabic": "مرحبا كيف حالك " * 10,
    "emoji": "😀 🎉 👍 " * 20,
    "french": "Le café crème coûte très cher à Paris, où l'hôtel est près de la forêt. " * 5,
    "english": "The quick brown fox jumps over the lazy dog. " * 10,
}


def test_non_latin_scripts_and_emoji_are_not_undercounted() -> None:
    # SmolLM2 spends ~1.9 tokens per Japanese character, ~1.3 per Chinese one and 2-3 per emoji; the estimate
    # charged one token per 3 such characters, so a budget "with room to spare" overflowed the real window.
    assert approximate_tokens("日本語のテキストです") >= 20
    assert approximate_tokens("中文文本测试") >= 9
    assert approximate_tokens("😀" * 10) >= 30
    assert approximate_tokens("Привет") >= 6
    assert approximate_tokens("café") == 2  # a lone accent in a Latin word stays cheap


def test_a_cjk_request_that_cannot_fit_is_refused_not_sent() -> None:
    builder = ContextBuilder(context_window=300, reserved_output=20, data_notice=False)
    with pytest.raises(ContextOverflow):  # ~380 real tokens; the estimate said 100 and let it through
        builder.build([UserMessage(content=SAMPLES["japanese"])], tools=[], model=ScriptedModel([]),
                      settings=DecodingSettings())


@pytest.mark.model
def test_estimate_is_not_below_the_real_tokenizer() -> None:
    from agentkit.models import default_model

    model = default_model()
    for name, sample in SAMPLES.items():
        real, estimate = model.count_tokens(sample), approximate_tokens(sample)
        assert real <= estimate <= 3 * real, f"{name}: real {real}, estimate {estimate}"
