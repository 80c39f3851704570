using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Caldera.Common;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Training.Adapters;

/// <summary>
/// The adapter file (<c>.calda</c>): small, self-describing, checksummed, written atomically.
///   0   magic "CALDADPT"          8   version (u32)        12  reserved, 0 (u32)
///   16  file length (i64)         24  XxHash3-64 of every other byte (u64)
///   32  manifest length (i64)     40  manifest: UTF-8 JSON, zero-padded to a multiple of 8
///   then per matrix in manifest order: L_tᵀ (r×m) and R_t (r×n), float32 little-endian;
///   then (version 2) per trained RMSNorm gain in the manifest's "norms" order: its values, float32 little-endian.
/// Version 1 holds matrices only; a file with gains is written as version 2, which an older build refuses by its version
/// number, and this build reads both. The manifest names the base model by its <c>.cald</c> checksum and records the training (<see cref="AdapterTraining"/>):
/// settings, token counts, a hash of the token ids and the losses, never the text. Every problem on reading is a
/// <see cref="ModelFormatException"/> naming the file; sizes are checked in 64-bit arithmetic before anything is allocated.
/// </summary>
internal static class AdapterFile
{
    public const string Extension = ".calda";
    /// <summary>The version written when an adapter holds only matrices, and the one written when it also holds gains.</summary>
    public const uint Version = 1, VersionWithGains = 2;
    private const int HeaderSize = 40, ChecksumOffset = 24;

    /// <summary>Far above any real manifest (a few hundred bytes per matrix plus the losses).</summary>
    private const long MaxManifestBytes = 64L << 20;

    private static ReadOnlySpan<byte> Magic => "CALDADPT"u8;

    public static void Write(string path, LowRankAdapter adapter)
    {
        foreach (var m in adapter.Matrices)
            if (m.FindProblem() is { } problem) throw new ArgumentException(problem, nameof(adapter));
        foreach (var g in adapter.Gains)
            if (g.FindProblem() is { } problem) throw new ArgumentException(problem, nameof(adapter));
        byte[] manifest = Manifest(adapter);
        int padded = (manifest.Length + 7) / 8 * 8;
        long payload = adapter.Matrices.Sum(m => 4L * (m.LTransposed.Length + m.R.Length)) + adapter.Gains.Sum(g => 4L * g.Values.Length);
        var bytes = new byte[HeaderSize + padded + payload];
        Magic.CopyTo(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), adapter.Gains.Count > 0 ? VersionWithGains : Version);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(16), bytes.LongLength);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(32), manifest.Length);
        manifest.CopyTo(bytes, HeaderSize);
        long offset = HeaderSize + padded;
        foreach (var values in adapter.Matrices.SelectMany(m => new[] { m.LTransposed, m.R }).Concat(adapter.Gains.Select(g => g.Values)))
        {
            var target = MemoryMarshal.Cast<byte, float>(bytes.AsSpan((int)offset, 4 * values.Length));
            values.CopyTo(target);
            offset += 4L * values.Length;
        }
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(ChecksumOffset), Checksum(bytes));
        AtomicFile.WriteAllBytes(path, bytes);
    }

    public static LowRankAdapter Read(string path)
    {
        byte[] bytes;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new ModelFormatException(path, "no such adapter file");
            if (info.Length > int.MaxValue) throw new ModelFormatException(path, $"{info.Length} bytes is far larger than any adapter (not an adapter file)");
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(path, $"cannot be read: {e.Message}", e);
        }
        if (bytes.Length < HeaderSize) throw new ModelFormatException(path, $"{bytes.Length} bytes is shorter than the {HeaderSize}-byte adapter header (truncated, or not an adapter)");
        if (!bytes.AsSpan(0, 8).SequenceEqual(Magic)) throw new ModelFormatException(path, "bad magic: not a caldera adapter (.calda) file");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        if (version is not (Version or VersionWithGains))
            throw new ModelFormatException(path, $"adapter format version {version} is not supported (this build reads {Version} and {VersionWithGains}); fine-tune again with this caldera");
        long length = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(16));
        if (length != bytes.Length) throw new ModelFormatException(path, $"the header says {length} bytes but the file has {bytes.Length} (truncated or extended copy); copy it again");
        ulong stored = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(ChecksumOffset)), actual = Checksum(bytes);
        if (stored != actual) throw new ModelFormatException(path, $"checksum mismatch (stored {stored:x16}, computed {actual:x16}): the adapter is damaged; copy it again or fine-tune again");
        long manifestLength = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(32));
        if (manifestLength <= 0 || manifestLength > MaxManifestBytes || HeaderSize + manifestLength > bytes.Length)
            throw new ModelFormatException(path, $"a manifest of {manifestLength} bytes does not fit the {bytes.Length}-byte file");
        try
        {
            return Parse(path, bytes, (int)manifestLength, version);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or ArgumentException)
        {
            throw new ModelFormatException(path, $"the manifest is malformed: {e.Message}", e);
        }
    }

    /// <summary>
    /// Throws unless every gain of <paramref name="adapter"/> (read from <paramref name="path"/>) replaces a norm of a
    /// model of <paramref name="config"/>, at its width.
    /// </summary>
    public static void CheckGains(string path, LowRankAdapter adapter, LlamaConfig config)
    {
        foreach (var g in adapter.Gains)
            if (g.FindMismatch(config) is { } problem) throw new ModelFormatException(path, $"{problem}; it belongs to another model");
    }

    /// <summary>Throws unless <paramref name="adapter"/> (read from <paramref name="path"/>) was trained on the model with <paramref name="baseChecksum"/>.</summary>
    public static void CheckBase(string path, LowRankAdapter adapter, ulong baseChecksum, string basePath)
    {
        if (adapter.BaseChecksum != baseChecksum)
            throw new ModelFormatException(path,
                $"was trained on {adapter.BaseName} (checksum {adapter.BaseChecksum:x16}), not on {basePath} (checksum {baseChecksum:x16}); use it with the model it was trained on, or fine-tune {Path.GetFileName(basePath)} again");
    }

    private static LowRankAdapter Parse(string path, byte[] bytes, int manifestLength, uint version)
    {
        using var document = JsonDocument.Parse(bytes.AsMemory(HeaderSize, manifestLength));
        var root = document.RootElement;
        var baseModel = root.GetProperty("base");
        ulong checksum = Convert.ToUInt64(baseModel.GetProperty("checksum").GetString(), 16);
        var matrices = new List<AdapterMatrix>();
        long offset = HeaderSize + (manifestLength + 7L) / 8 * 8;
        foreach (var m in root.GetProperty("matrices").EnumerateArray())
        {
            string name = m.GetProperty("name").GetString()!;
            int rows = m.GetProperty("rows").GetInt32(), columns = m.GetProperty("columns").GetInt32(), rank = m.GetProperty("rank").GetInt32();
            if (rows < 1 || columns < 1 || rank < 1 || rank > Math.Min(rows, columns))
                throw new ModelFormatException(path, $"matrix '{ModelFormatException.Cut(name)}': shape {rows}×{columns} with rank {rank} is inconsistent");
            long need = 4L * rank * ((long)rows + columns);
            if (offset + need > bytes.Length)
                throw new ModelFormatException(path, $"matrix '{ModelFormatException.Cut(name)}': its factors run past the end of the file (truncated)");
            var lt = MemoryMarshal.Cast<byte, float>(bytes.AsSpan((int)offset, 4 * rank * rows)).ToArray();
            offset += 4L * rank * rows;
            var r = MemoryMarshal.Cast<byte, float>(bytes.AsSpan((int)offset, 4 * rank * columns)).ToArray();
            offset += 4L * rank * columns;
            var matrix = new AdapterMatrix(name, rows, columns, rank, lt, r);
            if (matrix.FindProblem() is { } problem) throw new ModelFormatException(path, problem);
            matrices.Add(matrix);
        }
        var gains = new List<AdapterGain>();
        bool hasNorms = root.TryGetProperty("norms", out var norms);
        if (hasNorms != (version == VersionWithGains))
            throw new ModelFormatException(path, $"a version {version} adapter {(hasNorms ? "with" : "without")} norm gains (version {VersionWithGains} files, and only they, hold gains)");
        if (hasNorms)
            foreach (var g in norms.EnumerateArray())
            {
                string name = g.GetProperty("name").GetString()!;
                int length = g.GetProperty("length").GetInt32();
                if (length < 1) throw new ModelFormatException(path, $"norm gain '{ModelFormatException.Cut(name)}': length {length} must be at least 1");
                if (offset + 4L * length > bytes.Length)
                    throw new ModelFormatException(path, $"norm gain '{ModelFormatException.Cut(name)}': its values run past the end of the file (truncated)");
                var gain = new AdapterGain(name, MemoryMarshal.Cast<byte, float>(bytes.AsSpan((int)offset, 4 * length)).ToArray());
                offset += 4L * length;
                if (gain.FindProblem() is { } problem) throw new ModelFormatException(path, problem);
                if (gains.Any(g => g.Name == name)) throw new ModelFormatException(path, $"norm gain '{ModelFormatException.Cut(name)}' appears twice");
                gains.Add(gain);
            }
        if (offset != bytes.Length) throw new ModelFormatException(path, $"{bytes.Length - offset} bytes follow the last matrix's factors{(gains.Count > 0 ? " and gains" : "")}");
        var t = root.GetProperty("training");
        var training = new AdapterTraining
        {
            Objective = t.GetProperty("objective").GetString()!,
            Teacher = t.TryGetProperty("teacher", out var teacher) ? teacher.GetString() : null,
            LearningRate = t.GetProperty("learning_rate").GetDouble(),
            Steps = t.GetProperty("steps").GetInt32(),
            SequenceLength = t.GetProperty("sequence_length").GetInt32(),
            Accumulation = t.GetProperty("accumulation").GetInt32(),
            WarmupSteps = t.GetProperty("warmup_steps").GetInt32(),
            WeightDecay = t.GetProperty("weight_decay").GetDouble(),
            ClipNorm = t.GetProperty("clip_norm").GetDouble(),
            ValidationFraction = t.GetProperty("validation_fraction").GetDouble(),
            Seed = t.GetProperty("seed").GetUInt64(),
            QuantizationAware = t.TryGetProperty("quantization_aware", out var aware) && aware.GetBoolean(),
            DataTokens = t.GetProperty("data_tokens").GetInt64(),
            ValidationTokens = t.GetProperty("validation_tokens").GetInt64(),
            TrainedTokens = t.GetProperty("trained_tokens").GetInt64(),
            DataSha256 = t.GetProperty("data_sha256").GetString()!,
            Losses = t.GetProperty("losses").EnumerateArray().Select(e => e.GetDouble()).ToArray(),
            ValidationLosses = t.GetProperty("validation_losses").EnumerateArray().Select(e => (e[0].GetInt32(), e[1].GetDouble())).ToArray(),
            KeptStep = t.GetProperty("kept_step").GetInt32(),
        };
        return new LowRankAdapter(checksum, baseModel.GetProperty("name").GetString()!, root.GetProperty("rank").GetInt32(), matrices, training) { Gains = gains };
    }

    private static byte[] Manifest(LowRankAdapter adapter)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("format", "caldera low-rank adapter");
            w.WriteStartObject("base");
            w.WriteString("name", adapter.BaseName);
            w.WriteString("checksum", adapter.BaseChecksum.ToString("x16"));
            w.WriteEndObject();
            w.WriteNumber("rank", adapter.Rank);
            w.WriteStartArray("matrices");
            foreach (var m in adapter.Matrices)
            {
                w.WriteStartObject();
                w.WriteString("name", m.Name);
                w.WriteNumber("rows", m.Rows);
                w.WriteNumber("columns", m.Columns);
                w.WriteNumber("rank", m.Rank);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (adapter.Gains.Count > 0)
            {
                w.WriteStartArray("norms");
                foreach (var g in adapter.Gains)
                {
                    w.WriteStartObject();
                    w.WriteString("name", g.Name);
                    w.WriteNumber("length", g.Values.Length);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            var t = adapter.Training;
            w.WriteStartObject("training");
            w.WriteString("objective", t.Objective);
            if (t.Teacher != null) w.WriteString("teacher", t.Teacher);
            w.WriteNumber("learning_rate", t.LearningRate);
            w.WriteNumber("steps", t.Steps);
            w.WriteNumber("sequence_length", t.SequenceLength);
            w.WriteNumber("accumulation", t.Accumulation);
            w.WriteNumber("warmup_steps", t.WarmupSteps);
            w.WriteNumber("weight_decay", t.WeightDecay);
            w.WriteNumber("clip_norm", t.ClipNorm);
            w.WriteNumber("validation_fraction", t.ValidationFraction);
            w.WriteNumber("seed", t.Seed);
            if (t.QuantizationAware) w.WriteBoolean("quantization_aware", true);
            w.WriteNumber("data_tokens", t.DataTokens);
            w.WriteNumber("validation_tokens", t.ValidationTokens);
            w.WriteNumber("trained_tokens", t.TrainedTokens);
            w.WriteString("data_sha256", t.DataSha256);
            w.WriteStartArray("losses");
            foreach (double loss in t.Losses) w.WriteNumberValue(loss);
            w.WriteEndArray();
            w.WriteStartArray("validation_losses");
            foreach (var (step, loss) in t.ValidationLosses)
            {
                w.WriteStartArray();
                w.WriteNumberValue(step);
                w.WriteNumberValue(loss);
                w.WriteEndArray();
            }
            w.WriteEndArray();
            w.WriteNumber("kept_step", t.KeptStep);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    // Every byte but the checksum field's own.
    private static ulong Checksum(byte[] bytes)
    {
        var hash = new XxHash3();
        hash.Append(bytes.AsSpan(0, ChecksumOffset));
        hash.Append(bytes.AsSpan(ChecksumOffset + 8));
        return hash.GetCurrentHashAsUInt64();
    }
}
