using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Caldera.Common;
using Caldera.Runtime.Compression;

namespace Caldera.Compiler.Pipeline;

/// <summary>
/// The compressed matrices of finished decoder blocks, one file per block in a directory beside the output
/// (<c>&lt;out&gt;.parts/</c>), so an interrupted compression resumes where it stopped. A file is used only if
/// its checksum holds and its stamp (<see cref="CompressionPlan.Stamp"/>) equals the run's.
/// </summary>
/// <remarks>
/// File <c>layer-NNNN.part</c>, little-endian throughout:
/// <code>
/// file      = "CALDPART" · u32 version (1) · 32-byte stamp · i32 layer · i32 matrix count · matrix* · SHA-256 of all before it (32 bytes)
/// matrix    = str name · i32 rows · i32 columns · f32 g · f64 relative error · transform SU · transform SV
///             · u8 Q kind · i32 Q bits · i32 Q words per row · f32 Q scale · u16[] Q codes
///             · i32 rank · i32 factor bits · u16[] Lᵀ codes · f32 Lᵀ scale · u16[] R codes · f32 R scale · f16[] L · f16[] R
/// transform = u8 0 (identity) | u8 1 · i32 length · i32 block order · u8 is Hadamard · f32[] signs · f32[] fallback block
/// T[]       = i64 count · count values
/// str       = i32 UTF-8 byte count · bytes
/// </code>
/// Files are written to a temporary name and renamed into place, so a killed run leaves either the whole file
/// or none. Every count is checked against the bytes left before anything is allocated.
/// </remarks>
internal sealed class LayerCache
{
    private const int Version = 2;
    private const int ChecksumLength = 32;

    /// <summary>A part file larger than this is not one of ours (a block of a 70B model is well under it).</summary>
    private const long MaxFileBytes = int.MaxValue;

    private static ReadOnlySpan<byte> Magic => "CALDPART"u8;

    private readonly byte[] _stamp;

    public LayerCache(string directory, string stampHex)
    {
        Directory = directory;
        _stamp = Convert.FromHexString(stampHex);
        if (_stamp.Length != 32) throw new ArgumentException("the stamp must be a SHA-256 (64 hex digits).", nameof(stampHex));
    }

    public string Directory { get; }

    /// <summary>The usual cache directory for output <paramref name="outputPath"/>: <c>&lt;out&gt;.parts</c>.</summary>
    public static string DirectoryFor(string outputPath) => Path.GetFullPath(outputPath) + ".parts";

    public string PathOf(int layer) => Path.Combine(Directory, $"layer-{layer:D4}.part");

    /// <summary>Writes block <paramref name="layer"/>'s matrices atomically (temporary file, then rename).</summary>
    public void Save(int layer, IReadOnlyList<CompressedLinearData> matrices)
    {
        System.IO.Directory.CreateDirectory(Directory);
        byte[] bytes = Serialize(layer, matrices);
        AtomicFile.WriteAllBytes(PathOf(layer), bytes);
    }

    /// <summary>
    /// Block <paramref name="layer"/>'s matrices if a usable file is cached; null when there is none, and
    /// null with <paramref name="rejection"/> set when one exists but is corrupt, truncated or from other settings.
    /// </summary>
    public IReadOnlyList<CompressedLinearData>? TryLoad(int layer, out string? rejection)
    {
        rejection = null;
        string path = PathOf(layer);
        if (!File.Exists(path)) return null;
        try
        {
            long length = new FileInfo(path).Length;
            if (length > MaxFileBytes) throw new InvalidDataException($"{length} bytes is too large for a part file");
            return Deserialize(File.ReadAllBytes(path), layer);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            rejection = $"{path}: {e.Message}";
            return null;
        }
    }

    private byte[] Serialize(int layer, IReadOnlyList<CompressedLinearData> matrices)
    {
        var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(Version);
            w.Write(_stamp);
            w.Write(layer);
            w.Write(matrices.Count);
            foreach (var m in matrices)
            {
                WriteString(w, m.Name);
                w.Write(m.Rows);
                w.Write(m.Columns);
                w.Write(m.GlobalScale);
                w.Write(m.RelativeError);
                WriteTransform(w, m.InputTransform);
                WriteTransform(w, m.OutputTransform);
                w.Write((byte)m.QKind);
                w.Write(m.QBits);
                w.Write(m.QWordsPerRow);
                w.Write(m.QScale);
                WriteArray(w, m.QCodes.Span);
                w.Write(m.Rank);
                w.Write(m.FactorBits);
                WriteArray(w, m.LTransposedCodes.Span);
                w.Write(m.LTransposedScale);
                WriteArray(w, m.RCodes.Span);
                w.Write(m.RScale);
                WriteArray(w, m.L.Span);
                WriteArray(w, m.R.Span);
                WriteArray(w, (m.Spectrum?.Weight ?? []).AsSpan());
                WriteArray(w, (m.Spectrum?.Residual ?? []).AsSpan());
            }
        }
        stream.Write(SHA256.HashData(stream.GetBuffer().AsSpan(0, (int)stream.Length)));
        return stream.ToArray();
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        w.Write(bytes.Length);
        w.Write(bytes);
    }

    private static void WriteTransform(BinaryWriter w, TransformData? t)
    {
        w.Write((byte)(t is null ? 0 : 1));
        if (t is null) return;
        w.Write(t.Length);
        w.Write(t.BlockOrder);
        w.Write((byte)(t.IsHadamard ? 1 : 0));
        WriteArray(w, t.Signs.Span);
        WriteArray(w, t.FallbackBlock.Span);
    }

    private static void WriteArray<T>(BinaryWriter w, ReadOnlySpan<T> values) where T : unmanaged
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("the layer cache is written little-endian");
        w.Write((long)values.Length);
        w.Write(MemoryMarshal.AsBytes(values));
    }

    private List<CompressedLinearData> Deserialize(byte[] bytes, int layer)
    {
        int headerLength = Magic.Length + 4 + 32 + 4 + 4;
        if (bytes.Length < headerLength + ChecksumLength) throw new InvalidDataException("truncated (shorter than a header)");
        var body = bytes.AsSpan(0, bytes.Length - ChecksumLength);
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(bytes.AsSpan(body.Length)))
            throw new InvalidDataException("checksum mismatch (truncated or corrupt)");
        var r = new Reader(bytes, body.Length);
        if (!r.Bytes(Magic.Length).SequenceEqual(Magic)) throw new InvalidDataException("not a Caldera part file (bad magic)");
        int version = r.Int32();
        if (version != Version) throw new InvalidDataException($"part format version {version}, this build reads {Version}");
        if (!r.Bytes(32).SequenceEqual(_stamp)) throw new InvalidDataException("made with other settings, calibration, source or tool version");
        int storedLayer = r.Int32();
        if (storedLayer != layer) throw new InvalidDataException($"holds block {storedLayer}, not {layer}");
        int count = r.Int32();
        if (count is < 0 or > 64) throw new InvalidDataException($"{count} matrices in one block");
        var matrices = new List<CompressedLinearData>(count);
        for (int i = 0; i < count; i++)
        {
            string name = Encoding.UTF8.GetString(r.Bytes(r.Count(1, 4)));
            int rows = r.Int32(), columns = r.Int32();
            float g = r.Single();
            double error = r.Double();
            var input = ReadTransform(ref r);
            var output = ReadTransform(ref r);
            byte kind = r.Byte();
            if (kind > (byte)QCodeKind.Uniform) throw new InvalidDataException($"{name}: unknown Q code kind {kind}");
            matrices.Add(new CompressedLinearData
            {
                Name = name,
                Rows = rows,
                Columns = columns,
                GlobalScale = g,
                RelativeError = error,
                InputTransform = input,
                OutputTransform = output,
                QKind = (QCodeKind)kind,
                QBits = r.Int32(),
                QWordsPerRow = r.Int32(),
                QScale = r.Single(),
                QCodes = r.Array<ushort>(),
                Rank = r.Int32(),
                FactorBits = r.Int32(),
                LTransposedCodes = r.Array<ushort>(),
                LTransposedScale = r.Single(),
                RCodes = r.Array<ushort>(),
                RScale = r.Single(),
                L = r.Array<Half>(),
                R = r.Array<Half>(),
                Spectrum = Spectrum(r.Array<float>(), r.Array<float>()),
            });
        }
        if (r.Remaining != 0) throw new InvalidDataException($"{r.Remaining} stray bytes after the last matrix");
        return matrices;
    }

    private static MatrixSpectrum? Spectrum(float[] weight, float[] residual) => weight.Length == 0 ? null : new MatrixSpectrum(weight, residual);

    private static TransformData? ReadTransform(ref Reader r)
    {
        if (r.Byte() == 0) return null;
        int length = r.Int32(), order = r.Int32();
        bool hadamard = r.Byte() != 0;
        return new TransformData(length, order, hadamard, r.Array<float>(), r.Array<float>());
    }

    /// <summary>A cursor over the checksummed body that refuses to read or allocate past its end.</summary>
    private ref struct Reader(byte[] bytes, int end)
    {
        private int _position;

        public readonly int Remaining => end - _position;

        public ReadOnlySpan<byte> Bytes(int count)
        {
            if (count < 0 || count > Remaining) throw new InvalidDataException($"truncated: {count} bytes needed at offset {_position}, {Remaining} left");
            var span = bytes.AsSpan(_position, count);
            _position += count;
            return span;
        }

        public byte Byte() => Bytes(1)[0];
        public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Bytes(4));
        public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Bytes(8));
        public float Single() => BinaryPrimitives.ReadSingleLittleEndian(Bytes(4));
        public double Double() => BinaryPrimitives.ReadDoubleLittleEndian(Bytes(8));

        /// <summary>A count read as i32 (strings) whose elements of <paramref name="size"/> bytes must fit in what is left.</summary>
        public int Count(int size, int width)
        {
            long count = width == 4 ? Int32() : Int64();
            if (count < 0 || count * size > Remaining) throw new InvalidDataException($"a length of {count} at offset {_position} runs past the end");
            return (int)count;
        }

        public T[] Array<T>() where T : unmanaged
        {
            int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
            int count = Count(size, 8);
            var result = new T[count];
            Bytes(count * size).CopyTo(MemoryMarshal.AsBytes(result.AsSpan()));
            return result;
        }
    }
}
