using Caldera.Runtime.Formats;
using Microsoft.ML.Tokenizers;

namespace Caldera.Runtime.Tokenization;

/// <summary>
/// A SentencePiece BPE vocabulary (pieces with "▁" for spaces, merge scores, piece types) recovered from a
/// format the library cannot read — llama2.c's <c>tokenizer.bin</c> or a GGUF "llama" vocabulary — and
/// turned back into the <c>ModelProto</c> bytes that <see cref="LlamaTokenizer"/> reads.
/// </summary>
/// <remarks>
/// SentencePiece BPE encodes by repeatedly merging the adjacent pair whose merged piece has the highest
/// score, falling back to <c>&lt;0xNN&gt;</c> byte pieces for characters outside the vocabulary; that is
/// exactly llama2.c's and llama.cpp's encoder, so pieces + scores + types are the whole model. The
/// normalizer is "identity" with the dummy-prefix space and without collapsing repeated spaces, as both of
/// those encoders do.
/// </remarks>
internal sealed class SentencePieceVocabulary
{
    // sentencepiece_model.proto field numbers.
    private const int ModelPieces = 1, ModelTrainerSpec = 2, ModelNormalizerSpec = 3;
    private const int PiecePiece = 1, PieceScore = 2, PieceType = 3;
    private const int TrainerModelType = 3, TrainerVocabSize = 4, TrainerByteFallback = 35;
    private const int TrainerUnkId = 40, TrainerBosId = 41, TrainerEosId = 42, TrainerPadId = 43;
    private const int NormalizerName = 1, NormalizerAddDummyPrefix = 3, NormalizerRemoveExtraWhitespaces = 4,
        NormalizerEscapeWhitespaces = 5;
    private const int ModelTypeBpe = 2;

    public SentencePieceVocabulary(string[] pieces, float[] scores, SentencePieceType[] types, int unknownId, int bosId, int eosId)
    {
        Pieces = pieces;
        Scores = scores;
        Types = types;
        UnknownId = unknownId;
        BosId = bosId;
        EosId = eosId;
    }

    public string[] Pieces { get; }
    public float[] Scores { get; }
    public SentencePieceType[] Types { get; }
    public int UnknownId { get; }
    public int BosId { get; }
    public int EosId { get; }

    /// <summary>True for SentencePiece's byte-fallback pieces <c>&lt;0x00&gt;</c> … <c>&lt;0xFF&gt;</c>.</summary>
    public static bool IsBytePiece(string piece) =>
        piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>' &&
        char.IsAsciiHexDigitUpper(piece[3]) && char.IsAsciiHexDigitUpper(piece[4]);

    /// <summary>
    /// A GGUF "llama" vocabulary (<c>tokenizer.ggml.tokens/scores/token_type</c>); <paramref name="path"/>
    /// names the checkpoint in errors.
    /// </summary>
    public static SentencePieceVocabulary FromEmbedded(EmbeddedVocabulary v, string path)
    {
        int n = v.Tokens.Length;
        if (v.Scores is null)
            throw ModelFormatException.ForSetting(path, "tokenizer.ggml.scores",
                "missing; a SentencePiece (\"llama\") vocabulary needs merge scores, re-convert the model with them");
        if (v.Scores.Length != n)
            throw ModelFormatException.ForSetting(path, "tokenizer.ggml.scores", $"{v.Scores.Length} scores for {n} tokens");
        if (v.TokenTypes is not null && v.TokenTypes.Length != n)
            throw ModelFormatException.ForSetting(path, "tokenizer.ggml.token_type", $"{v.TokenTypes.Length} types for {n} tokens");
        int unk = v.UnknownId ?? 0;
        CheckId(path, "tokenizer.ggml.bos_token_id", v.BosId, n);
        CheckId(path, "tokenizer.ggml.eos_token_id", v.EosId, n);
        CheckId(path, "tokenizer.ggml.unknown_token_id", unk, n);

        var types = new SentencePieceType[n];
        for (int i = 0; i < n; i++)
        {
            string? piece = v.Tokens[i];
            if (string.IsNullOrEmpty(piece))
                throw ModelFormatException.ForSetting(path, "tokenizer.ggml.tokens", $"token {i} is empty");
            if (v.TokenTypes is null)
                types[i] = i == unk ? SentencePieceType.Unknown
                    : i == v.BosId || i == v.EosId ? SentencePieceType.Control
                    : IsBytePiece(piece) ? SentencePieceType.Byte : SentencePieceType.Normal;
            else if (v.TokenTypes[i] is >= (int)SentencePieceType.Normal and <= (int)SentencePieceType.Byte)
                types[i] = (SentencePieceType)v.TokenTypes[i];
            else
                throw ModelFormatException.ForSetting(path, "tokenizer.ggml.token_type",
                    $"token {i} has type {v.TokenTypes[i]}; SentencePiece types are 1..6");
        }
        return new SentencePieceVocabulary(v.Tokens, v.Scores, types, unk, v.BosId, v.EosId);
    }

    /// <summary>The serialized <c>sentencepiece.ModelProto</c> of this vocabulary.</summary>
    public byte[] ToModelProto()
    {
        var model = new ProtobufWriter();
        bool byteFallback = false;
        for (int i = 0; i < Pieces.Length; i++)
        {
            var piece = new ProtobufWriter();
            piece.WriteString(PiecePiece, Pieces[i]);
            piece.WriteFloat(PieceScore, Scores[i]);
            piece.WriteInt(PieceType, (int)Types[i]);
            model.WriteMessage(ModelPieces, piece);
            byteFallback |= Types[i] == SentencePieceType.Byte;
        }

        var trainer = new ProtobufWriter();
        trainer.WriteInt(TrainerModelType, ModelTypeBpe);
        trainer.WriteInt(TrainerVocabSize, Pieces.Length);
        trainer.WriteBool(TrainerByteFallback, byteFallback);
        trainer.WriteInt(TrainerUnkId, UnknownId);
        trainer.WriteInt(TrainerBosId, BosId);
        trainer.WriteInt(TrainerEosId, EosId);
        trainer.WriteInt(TrainerPadId, -1);
        model.WriteMessage(ModelTrainerSpec, trainer);

        var normalizer = new ProtobufWriter();
        normalizer.WriteString(NormalizerName, "identity");
        normalizer.WriteBool(NormalizerAddDummyPrefix, true);
        normalizer.WriteBool(NormalizerRemoveExtraWhitespaces, false);
        normalizer.WriteBool(NormalizerEscapeWhitespaces, true);
        model.WriteMessage(ModelNormalizerSpec, normalizer);
        return model.WrittenSpan.ToArray();
    }

    public ModelTokenizer ToModelTokenizer()
    {
        byte[] proto = ToModelProto();
        if (SentencePieceBpe.TryRead(proto) is { } bpe) return new ModelTokenizer(bpe, BosId, [EosId], Pieces.Length);
        var spm = LlamaTokenizer.Create(new MemoryStream(proto), addBeginOfSentence: false, addEndOfSentence: false);
        return new ModelTokenizer(spm, BosId, [EosId], Pieces.Length);
    }

    private static void CheckId(string path, string setting, int id, int count)
    {
        if ((uint)id >= (uint)count)
            throw ModelFormatException.ForSetting(path, setting, $"id {id} is outside the {count}-token vocabulary");
    }
}
