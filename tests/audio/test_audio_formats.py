from speaker.audio import OUTPUT_SAMPLE_RATE, AudioFormat, content_type


def test_format_values_match_openai_response_format() -> None:
    assert [f.value for f in AudioFormat] == ["mp3", "opus", "aac", "flac", "wav", "pcm"]
    assert AudioFormat("opus") is AudioFormat.OPUS


def test_content_types_match_openai() -> None:
    assert {f.value: content_type(f) for f in AudioFormat} == {
        "mp3": "audio/mpeg",
        "opus": "audio/opus",
        "aac": "audio/aac",
        "flac": "audio/flac",
        "wav": "audio/wav",
        "pcm": "audio/pcm",
    }


def test_output_rate_is_24k() -> None:
    assert OUTPUT_SAMPLE_RATE == 24000
