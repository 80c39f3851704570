namespace Caldera.Runtime.Tokenization;

/// <summary>
/// SentencePiece's <c>ModelProto.SentencePiece.Type</c>; GGUF's <c>tokenizer.ggml.token_type</c> uses the
/// same numbers.
/// </summary>
internal enum SentencePieceType
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}
