using System.Text;

namespace Caldera.Runtime.Tokenization;

/// <summary>
/// A SentencePiece BPE tokenizer read straight from its <c>ModelProto</c> into a few flat arrays: every piece's UTF-16
/// text in one buffer, its score, and an open-addressing table from text to id. It encodes and decodes exactly as
/// Microsoft.ML.Tokenizers' <see cref="Microsoft.ML.Tokenizers.LlamaTokenizer"/> does for the models it accepts, so that
/// either gives the same ids and text (<c>SentencePieceBpeTests</c> compares them on every shared tokenizer).
/// </summary>
/// <remarks>
/// Why not the library: it builds an object per piece and three dictionaries, 8.8 MB of allocations and 10 ms for Llama
/// 2's 32,000 pieces (`SentencePieceLoadBenchmarks`); on the published app's way to its first token that build ran
/// beside the weights' binding and, with the collections its allocations set off, took 30–50 ms, the longest step on
/// the path. This reader allocates four arrays, 1.4 MB, in 2.3 ms.
///
/// It accepts the form Llama-family models use: model type BPE, byte fallback with the 256 pieces <c>&lt;0x00&gt;</c> …
/// <c>&lt;0xFF&gt;</c> in order, the identity normalizer (no precompiled character map, repeated spaces kept), whitespace as
/// a prefix, no unused pieces, no duplicate pieces, finite scores. For anything else <see cref="TryRead"/> returns null and
/// the library reads the file, with its own handling and its own errors.
///
/// The encoding is SentencePiece's BPE: the normalized text ("▁" + text, spaces as "▁") split into code points, then the
/// adjacent pair whose concatenation is a piece with the highest score merged, again and again; symbols left that are no
/// piece (or are the unknown piece) become their UTF-8 bytes' pieces. Between pairs of equal score the library merges
/// the rightmost first (SentencePiece and llama.cpp take the leftmost): this class does as the library does.
/// </remarks>
internal sealed class SentencePieceBpe : IInnerTokenizer
{
    // sentencepiece_model.proto field numbers and enum values.
    private const int ModelPieces = 1, ModelTrainerSpec = 2, ModelNormalizerSpec = 3;
    private const int PiecePiece = 1, PieceScore = 2, PieceType = 3;
    private const int TrainerModelType = 3, TrainerTreatWhitespaceAsSuffix = 24, TrainerByteFallback = 35;
    private const int TrainerUnkId = 40, TrainerBosId = 41, TrainerEosId = 42;
    private const int NormalizerPrecompiledCharsmap = 2, NormalizerAddDummyPrefix = 3, NormalizerRemoveExtraWhitespaces = 4,
        NormalizerEscapeWhitespaces = 5;
    private const int ModelTypeBpe = 2;
    private const char SpaceSymbol = '\u2581';

    /// <summary>Piece i's text is <c>_text[_start[i] .. _start[i + 1]]</c>.</summary>
    private readonly char[] _text;
    private readonly int[] _start;
    private readonly float[] _scores;

    /// <summary>Open addressing, linear probing: id + 1 of the piece whose text hashes to the slot, 0 for empty.</summary>
    private readonly int[] _slots;

    /// <summary>Id of <c>&lt;0x00&gt;</c>; byte b's piece is this + b.</summary>
    private readonly int _byteOffset;
    private readonly bool _addDummyPrefix, _escapeWhitespaces;

    private SentencePieceBpe(char[] text, int[] start, float[] scores, int byteOffset, bool addDummyPrefix, bool escapeWhitespaces,
        int unknownId, int bosId, int eosId)
    {
        _text = text;
        _start = start;
        _scores = scores;
        _byteOffset = byteOffset;
        _addDummyPrefix = addDummyPrefix;
        _escapeWhitespaces = escapeWhitespaces;
        UnknownId = unknownId;
        BosId = bosId;
        EosId = eosId;
        _slots = new int[SlotCount(scores.Length)];
    }

    public int Count => _scores.Length;

    /// <summary>The ids the library takes from the trainer spec: BOS and EOS 1 when not positive, unknown 0 when negative.</summary>
    public int UnknownId { get; }
    public int BosId { get; }
    public int EosId { get; }

    /// <summary>The tokenizer of <paramref name="modelProto"/>, or null when it is not in the form this class reads exactly.</summary>
    public static SentencePieceBpe? TryRead(ReadOnlySpan<byte> modelProto)
    {
        try
        {
            return Read(modelProto);
        }
        catch (FormatException)
        {
            return null; // the library reports the malformed file
        }
    }

    private static SentencePieceBpe? Read(ReadOnlySpan<byte> modelProto)
    {
        // First pass: the pieces' count and text size, and the specs, so that the arrays are allocated once.
        int count = 0, textBytes = 0;
        int modelType = 1, unknownId = 0, bosId = 1, eosId = 2;
        bool byteFallback = false, suffix = false, charsmap = false, addDummyPrefix = true, removeExtraWhitespaces = true, escape = true;
        var message = new ProtobufReader(modelProto);
        while (!message.AtEnd)
        {
            var (field, wire) = message.ReadTag();
            if (field is ModelPieces or ModelTrainerSpec or ModelNormalizerSpec)
            {
                ProtobufReader.Expect(field, wire, ProtobufReader.WireLengthDelimited);
                var body = message.ReadLengthDelimited();
                if (field == ModelPieces)
                {
                    count++;
                    textBytes += body.Length;
                }
                else if (field == ModelTrainerSpec) ReadTrainer(body, ref modelType, ref suffix, ref byteFallback, ref unknownId, ref bosId, ref eosId);
                else ReadNormalizer(body, ref charsmap, ref addDummyPrefix, ref removeExtraWhitespaces, ref escape);
            }
            else message.Skip(wire);
        }
        if (modelType != ModelTypeBpe || suffix || !byteFallback || charsmap || removeExtraWhitespaces || count == 0) return null;

        var text = new char[textBytes]; // UTF-16 never needs more chars than UTF-8 has bytes
        var start = new int[count + 1];
        var scores = new float[count];
        int byteOffset = -1, bytePieces = 0, used = 0;
        message = new ProtobufReader(modelProto);
        for (int id = 0; !message.AtEnd;)
        {
            var (field, wire) = message.ReadTag();
            if (field != ModelPieces)
            {
                message.Skip(wire);
                continue;
            }
            var piece = new ProtobufReader(message.ReadLengthDelimited());
            ReadOnlySpan<byte> utf8 = default;
            var type = SentencePieceType.Normal;
            while (!piece.AtEnd)
            {
                var (f, w) = piece.ReadTag();
                switch (f)
                {
                    case PiecePiece: ProtobufReader.Expect(f, w, ProtobufReader.WireLengthDelimited); utf8 = piece.ReadLengthDelimited(); break;
                    case PieceScore: ProtobufReader.Expect(f, w, ProtobufReader.WireFixed32); scores[id] = piece.ReadFloat(); break;
                    case PieceType: ProtobufReader.Expect(f, w, ProtobufReader.WireVarint); type = (SentencePieceType)piece.ReadInt32(); break;
                    default: piece.Skip(w); break;
                }
            }
            if (type is SentencePieceType.Unused or < SentencePieceType.Normal or > SentencePieceType.Byte || !float.IsFinite(scores[id])) return null;
            start[id] = used;
            used += Encoding.UTF8.GetChars(utf8, text.AsSpan(used));
            if (type == SentencePieceType.Byte)
            {
                if (byteOffset < 0) byteOffset = id;
                // Byte pieces must be <0x00> … <0xFF> in order, so that a byte's id is byteOffset + its value, as the library assumes.
                if (id != byteOffset + bytePieces || !IsBytePiece(text.AsSpan(start[id], used - start[id]), bytePieces)) return null;
                bytePieces++;
            }
            id++;
        }
        start[count] = used;
        if (bytePieces != 256) return null;

        var bpe = new SentencePieceBpe(text, start, scores, byteOffset, addDummyPrefix, escape,
            unknownId < 0 ? 0 : unknownId, bosId <= 0 ? 1 : bosId, eosId <= 0 ? 1 : eosId);
        return bpe.FillSlots() ? bpe : null; // duplicate pieces: the library refuses them
    }

    private static void ReadTrainer(ReadOnlySpan<byte> body, ref int modelType, ref bool suffix, ref bool byteFallback,
        ref int unknownId, ref int bosId, ref int eosId)
    {
        var r = new ProtobufReader(body);
        while (!r.AtEnd)
        {
            var (f, w) = r.ReadTag();
            if (f is TrainerModelType or TrainerTreatWhitespaceAsSuffix or TrainerByteFallback or TrainerUnkId or TrainerBosId or TrainerEosId)
                ProtobufReader.Expect(f, w, ProtobufReader.WireVarint);
            switch (f)
            {
                case TrainerModelType: modelType = r.ReadInt32(); break;
                case TrainerTreatWhitespaceAsSuffix: suffix = r.ReadBool(); break;
                case TrainerByteFallback: byteFallback = r.ReadBool(); break;
                case TrainerUnkId: unknownId = r.ReadInt32(); break;
                case TrainerBosId: bosId = r.ReadInt32(); break;
                case TrainerEosId: eosId = r.ReadInt32(); break;
                default: r.Skip(w); break;
            }
        }
    }

    private static void ReadNormalizer(ReadOnlySpan<byte> body, ref bool charsmap, ref bool addDummyPrefix, ref bool removeExtraWhitespaces, ref bool escape)
    {
        var r = new ProtobufReader(body);
        while (!r.AtEnd)
        {
            var (f, w) = r.ReadTag();
            switch (f)
            {
                case NormalizerPrecompiledCharsmap: ProtobufReader.Expect(f, w, ProtobufReader.WireLengthDelimited); charsmap |= r.ReadLengthDelimited().Length > 0; break;
                case NormalizerAddDummyPrefix: ProtobufReader.Expect(f, w, ProtobufReader.WireVarint); addDummyPrefix = r.ReadBool(); break;
                case NormalizerRemoveExtraWhitespaces: ProtobufReader.Expect(f, w, ProtobufReader.WireVarint); removeExtraWhitespaces = r.ReadBool(); break;
                case NormalizerEscapeWhitespaces: ProtobufReader.Expect(f, w, ProtobufReader.WireVarint); escape = r.ReadBool(); break;
                default: r.Skip(w); break;
            }
        }
    }

    private static bool IsBytePiece(ReadOnlySpan<char> piece, int value) =>
        piece.Length == 6 && piece.StartsWith("<0x") && piece[5] == '>' &&
        int.TryParse(piece[3..5], System.Globalization.NumberStyles.AllowHexSpecifier, null, out int parsed) && parsed == value;

    private static int SlotCount(int pieces)
    {
        int slots = 16;
        while (slots < 2 * pieces) slots *= 2;
        return slots;
    }

    /// <returns>False when two pieces have the same text.</returns>
    private bool FillSlots()
    {
        int mask = _slots.Length - 1;
        for (int id = 0; id < Count; id++)
        {
            var piece = Piece(id);
            int slot = Hash(piece) & mask;
            for (; _slots[slot] != 0; slot = (slot + 1) & mask)
                if (piece.SequenceEqual(Piece(_slots[slot] - 1))) return false;
            _slots[slot] = id + 1;
        }
        return true;
    }

    private ReadOnlySpan<char> Piece(int id) => _text.AsSpan(_start[id], _start[id + 1] - _start[id]);

    /// <summary>The id of the piece whose text is <paramref name="text"/>, or −1.</summary>
    private int Find(ReadOnlySpan<char> text)
    {
        int mask = _slots.Length - 1;
        for (int slot = Hash(text) & mask; _slots[slot] != 0; slot = (slot + 1) & mask)
            if (text.SequenceEqual(Piece(_slots[slot] - 1))) return _slots[slot] - 1;
        return -1;
    }

    /// <summary>FNV-1a over the UTF-16 code units: fixed across processes, cheap for pieces of a few characters.</summary>
    private static int Hash(ReadOnlySpan<char> text)
    {
        uint h = 2166136261;
        foreach (char c in text) h = (h ^ c) * 16777619;
        return (int)(h ^ (h >> 15));
    }

    public IReadOnlyList<int> EncodeToIds(string text)
    {
        if (text.Length == 0) return [];
        var normalized = Normalize(text);
        int n = 0;
        var symbols = new Symbol[normalized.Length];
        for (int i = 0; i < normalized.Length; n++)
        {
            int length = char.IsHighSurrogate(normalized[i]) && i + 1 < normalized.Length && char.IsLowSurrogate(normalized[i + 1]) ? 2 : 1;
            symbols[n] = new Symbol { Prev = n - 1, Next = i + length < normalized.Length ? n + 1 : -1, Start = i, Length = length, Id = -1 };
            i += length;
        }

        var agenda = new PriorityQueue<Pair, Pair>(n, PairOrder.Instance);
        for (int i = 1; i < n; i++) Propose(symbols, agenda, normalized, i - 1, i);
        while (agenda.TryDequeue(out var top, out _))
        {
            ref var left = ref symbols[top.Left];
            ref var right = ref symbols[top.Right];
            // Stale pairs (a side merged since) no longer add up to the pair's length.
            if (left.Length == 0 || right.Length == 0 || left.Length + right.Length != top.Length) continue;
            left.Length += right.Length;
            left.Id = top.Id;
            left.Next = right.Next;
            if (right.Next >= 0) symbols[right.Next].Prev = top.Left;
            right.Length = 0;
            Propose(symbols, agenda, normalized, left.Prev, top.Left);
            Propose(symbols, agenda, normalized, top.Left, left.Next);
        }

        var ids = new List<int>(n);
        for (int i = 0; n > 0 && i >= 0; i = symbols[i].Next)
        {
            var s = symbols[i];
            var piece = normalized.AsSpan(s.Start, s.Length);
            int id = s.Id >= 0 ? s.Id : Find(piece);
            if (id >= 0 && id != UnknownId)
            {
                ids.Add(id);
                continue;
            }
            // Byte fallback; a lone surrogate becomes U+FFFD's bytes, as the library's UTF-8 encoder writes it.
            var bytes = Encoding.UTF8.GetBytes(piece.ToArray());
            foreach (byte b in bytes) ids.Add(_byteOffset + b);
        }
        return ids;
    }

    private char[] Normalize(string text)
    {
        int prefix = _addDummyPrefix ? 1 : 0;
        var normalized = new char[text.Length + prefix];
        char space = _escapeWhitespaces ? SpaceSymbol : ' ';
        if (prefix == 1) normalized[0] = space;
        for (int i = 0; i < text.Length; i++) normalized[i + prefix] = text[i] == ' ' ? space : text[i];
        return normalized;
    }

    private void Propose(Symbol[] symbols, PriorityQueue<Pair, Pair> agenda, char[] normalized, int left, int right)
    {
        if (left < 0 || right < 0) return;
        int length = symbols[left].Length + symbols[right].Length;
        int id = Find(normalized.AsSpan(symbols[left].Start, length));
        if (id < 0) return;
        var pair = new Pair(left, right, length, id, _scores[id]);
        agenda.Enqueue(pair, pair);
    }

    /// <summary>
    /// The text of <paramref name="ids"/> as the library writes it: BOS, EOS, unknown and every id below the byte pieces
    /// (the control pieces listed first) write nothing; each run of byte pieces is decoded as UTF-8 (invalid bytes as
    /// U+FFFD); the first piece with text loses its leading "▁"; ids outside the vocabulary are skipped.
    /// </summary>
    public string Decode(IEnumerable<int> ids)
    {
        // Called on every generated token (TokenTextStream decodes a few-token window): the byte list exists only once a
        // byte piece comes.
        var text = new StringBuilder();
        List<byte>? bytes = null;
        bool prefixRemoved = false;
        char space = _escapeWhitespaces ? SpaceSymbol : ' ';
        foreach (int id in ids)
        {
            if (id >= _byteOffset && id < _byteOffset + 256)
            {
                (bytes ??= []).Add((byte)(id - _byteOffset));
                continue;
            }
            Flush(text, bytes);
            if (id < _byteOffset || id == BosId || id == EosId || id == UnknownId || id >= Count) continue;
            var piece = Piece(id);
            if (piece.IsEmpty) continue;
            if (_addDummyPrefix && !prefixRemoved && piece[0] == space) piece = piece[1..];
            text.Append(piece);
            prefixRemoved = true;
        }
        Flush(text, bytes);
        return _escapeWhitespaces ? text.Replace(SpaceSymbol, ' ').ToString() : text.ToString();
    }

    private static void Flush(StringBuilder text, List<byte>? bytes)
    {
        if (bytes is not { Count: > 0 }) return;
        text.Append(Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes)));
        bytes.Clear();
    }

    private struct Symbol
    {
        public int Prev, Next, Start, Length, Id;
    }

    private readonly record struct Pair(int Left, int Right, int Length, int Id, float Score);

    /// <summary>Highest score first; between equal scores the rightmost pair, as the library's queue orders them.</summary>
    private sealed class PairOrder : IComparer<Pair>
    {
        public static readonly PairOrder Instance = new();

        public int Compare(Pair x, Pair y) => x.Score != y.Score ? y.Score.CompareTo(x.Score) : y.Left.CompareTo(x.Left);
    }
}
