namespace Caldera.Runtime.Tokenization;

/// <summary>
/// A tokenizer vocabulary carried inside a checkpoint (GGUF's <c>tokenizer.ggml.*</c> keys).
/// <paramref name="Model"/> is GGUF's <c>tokenizer.ggml.model</c>: "llama" (SentencePiece pieces with
/// scores) or "gpt2" (byte-level BPE with merges).
/// </summary>
internal sealed record EmbeddedVocabulary(
    string Model,
    string[] Tokens,
    float[]? Scores,
    int[]? TokenTypes,
    string[]? Merges,
    int BosId,
    int EosId,
    int? UnknownId,
    string? PreTokenizer);
