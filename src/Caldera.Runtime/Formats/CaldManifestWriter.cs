using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Formats;

/// <summary>
/// Writes the JSON manifest of a <c>.cald</c> file and lays out its tensor sections in the same walk over the
/// content: each array gets the next 64-byte-aligned offset after the header, in manifest order. The JSON is
/// written with <see cref="Utf8JsonWriter"/> in a fixed property order, so identical content gives identical bytes.
/// </summary>
internal sealed class CaldManifestWriter
{
    /// <summary>The bytes of one section, produced when the file is written (packing happens there).</summary>
    public delegate ReadOnlySpan<byte> SectionBytes();

    public sealed record PlannedSection(long Offset, long Length, SectionBytes Bytes);

    private readonly List<PlannedSection> _sections = [];
    private readonly Dictionary<string, (long Signs, long Block)> _sharedTransforms = new(StringComparer.Ordinal);
    private readonly Utf8JsonWriter _json;
    private long _cursor = CaldLayout.HeaderSize;

    private CaldManifestWriter(Utf8JsonWriter json) => _json = json;

    /// <summary>The tensor sections, in file order.</summary>
    public IReadOnlyList<PlannedSection> Sections => _sections;

    /// <summary>Where the manifest starts: the first aligned offset after the last section.</summary>
    public long ManifestOffset => CaldLayout.Align(_cursor);

    public byte[] Manifest { get; private set; } = [];

    /// <summary>
    /// Lays out <paramref name="content"/> and writes its manifest recording <paramref name="bits"/>.
    /// The layout does not depend on those figures, only the manifest's length does.
    /// </summary>
    public static CaldManifestWriter Walk(CompressedModelContent content, BitsPerWeight bits)
    {
        var buffer = new ArrayBufferWriter<byte>();
        CaldManifestWriter writer;
        // Compact: the manifest is for programs (caldera inspect prints it for people), and indentation doubled its size, a
        // quarter of the whole file's overhead on a small model (tinystories-256d: 126,612 bytes indented, 64,437 compact).
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false }))
        {
            writer = new CaldManifestWriter(json);
            writer.Model(content, bits);
        }
        writer.Manifest = buffer.WrittenSpan.ToArray();
        return writer;
    }

    private void Model(CompressedModelContent content, BitsPerWeight bits)
    {
        var j = _json;
        j.WriteStartObject();
        j.WriteString("format", "cald");
        j.WriteNumber("format_version", CaldLayout.Version);
        j.WriteString("tool_version", content.ToolVersion);
        j.WriteString("source_sha256", content.SourceSha256);
        j.WriteString("architecture", "llama");
        Config(content.Config);
        Settings(content.Settings);
        j.WriteStartObject("bits_per_weight");
        j.WriteNumber("linear_layers", bits.LinearLayers);
        j.WriteNumber("file", bits.File);
        j.WriteEndObject();
        j.WriteStartObject("weights");
        j.WriteNumber("linear_layers", bits.LinearLayerWeights);
        j.WriteNumber("total", bits.Parameters);
        j.WriteEndObject();

        if (content.Tokenizer is { } tokenizer)
        {
            j.WriteStartObject("tokenizer");
            j.WriteString("kind", CaldNames.Tokenizer(tokenizer.Kind));
            Bytes("data", "u8", tokenizer.Bytes);
            if (!tokenizer.ConfigBytes.IsEmpty) Bytes("config", "u8", tokenizer.ConfigBytes);
            j.WriteEndObject();
        }
        else j.WriteNull("tokenizer");

        j.WriteStartArray("dense_tensors");
        foreach (var d in content.DenseTensors)
        {
            j.WriteStartObject();
            j.WriteString("name", d.Name);
            SectionFields(CaldNames.Dtype(d.Type), d.Shape, d.Data.Length, () => d.Data.Span);
            j.WriteEndObject();
        }
        j.WriteEndArray();

        j.WriteStartArray("matrices");
        for (int i = 0; i < content.Matrices.Count; i++) Matrix(content.Matrices, i);
        j.WriteEndArray();
        j.WriteEndObject();
    }

    private void Config(LlamaConfig c)
    {
        var j = _json;
        j.WriteStartObject("config");
        j.WriteNumber("dim", c.Dim);
        j.WriteNumber("hidden_dim", c.HiddenDim);
        j.WriteNumber("layers", c.LayerCount);
        j.WriteNumber("heads", c.HeadCount);
        j.WriteNumber("kv_heads", c.KvHeadCount);
        j.WriteNumber("head_dim", c.HeadDim);
        j.WriteNumber("vocab_size", c.VocabSize);
        j.WriteNumber("context_length", c.ContextLength);
        j.WriteNumber("norm_epsilon", c.NormEpsilon);
        j.WriteNumber("rope_theta", c.RopeTheta);
        j.WriteString("rope_pairing", CaldNames.Pairing(c.RopePairing));
        if (c.RopeScaling is { } s)
        {
            j.WriteStartObject("rope_scaling");
            j.WriteNumber("factor", s.Factor);
            j.WriteNumber("low_freq_factor", s.LowFrequencyFactor);
            j.WriteNumber("high_freq_factor", s.HighFrequencyFactor);
            j.WriteNumber("original_context_length", s.OriginalContextLength);
            j.WriteEndObject();
        }
        else j.WriteNull("rope_scaling");
        // Written only when present, so a model without them is stored exactly as before the key existed.
        if (c.RopeFrequencyFactors is { } factors)
        {
            j.WriteStartArray("rope_freq_factors");
            foreach (float f in factors.Values) j.WriteNumberValue(f);
            j.WriteEndArray();
        }
        j.WriteBoolean("tied_classifier", c.TiedClassifier);
        j.WriteEndObject();
    }

    private void Settings(CompressionSettings s)
    {
        var j = _json;
        j.WriteStartObject("compression");
        j.WriteString("method", s.Method);
        j.WriteNumber("rank", s.Rank);
        j.WriteNumber("q_bits", s.QBits);
        j.WriteNumber("factor_bits", s.FactorBits);
        j.WriteString("preset", s.Preset);
        j.WriteNumber("outer_iterations", s.OuterIterations);
        j.WriteNumber("inner_iterations", s.InnerIterations);
        j.WriteNumber("refinement_sweeps", s.RefinementSweeps);
        j.WriteBoolean("randomized_hadamard", s.RandomizedHadamard);
        j.WriteBoolean("hessian_downdate", s.HessianDowndate);
        j.WriteNumber("regularization", s.Regularization);
        j.WriteNumber("seed", s.Seed);
        j.WriteString("calibration", s.Calibration);
        j.WriteNumber("calibration_samples", s.CalibrationSamples);
        j.WriteNumber("calibration_sequence_length", s.CalibrationSequenceLength);
        j.WriteEndObject();
    }

    /// <remarks>
    /// The sections read matrix <paramref name="index"/> of <paramref name="matrices"/> again when they are written instead of
    /// holding its arrays, so a list that reads its matrices from disk on demand (the compiler's layer cache) is written while
    /// holding one block's matrices, not the model's.
    /// </remarks>
    private void Matrix(IReadOnlyList<CompressedLinearData> matrices, int index)
    {
        var m = matrices[index];
        var j = _json;
        j.WriteStartObject();
        j.WriteString("name", m.Name);
        j.WriteNumber("rows", m.Rows);
        j.WriteNumber("columns", m.Columns);
        j.WriteNumber("global_scale", m.GlobalScale);
        j.WriteNumber("relative_error", m.RelativeError);
        j.WriteNumber("bits_per_weight", m.BitsPerWeight);

        j.WriteStartObject("q");
        j.WriteString("kind", CaldNames.QKind(m.QKind));
        j.WriteNumber("bits", m.QBits);
        j.WriteNumber("scale", m.QScale);
        j.WriteNumber("words_per_row", m.QWordsPerRow);
        j.WritePropertyName("codes");
        if (m.QKind == QCodeKind.Uniform)
            Section(CaldNames.Packed(m.QBits), [m.Rows, m.Columns], BitPacking.PackedLength((long)m.Rows * m.Columns, m.QBits),
                () => BitPacking.Pack(matrices[index].QCodes.Span, matrices[index].QBits));
        else Words(m.QCodes.Length, () => matrices[index].QCodes, [m.Rows, m.QWordsPerRow]);
        j.WriteEndObject();

        j.WriteNumber("rank", m.Rank);
        j.WriteNumber("factor_bits", m.FactorBits);
        j.WriteNumber("l_transposed_scale", m.LTransposedScale);
        j.WriteNumber("r_scale", m.RScale);
        if (m.Rank > 0 && m.FactorBits == 4)
        {
            j.WritePropertyName("l_transposed");
            Words(m.LTransposedCodes.Length, () => matrices[index].LTransposedCodes, [m.Rank, E8PResidualLattice.WordCount(m.Rows)]);
            j.WritePropertyName("r");
            Words(m.RCodes.Length, () => matrices[index].RCodes, [m.Rank, E8PResidualLattice.WordCount(m.Columns)]);
        }
        else if (m.Rank > 0)
        {
            j.WritePropertyName("l");
            Halves(m.L.Length, () => matrices[index].L, [m.Rows, m.Rank]);
            j.WritePropertyName("r");
            Halves(m.R.Length, () => matrices[index].R, [m.Rank, m.Columns]);
        }
        Transform("input_transform", m.InputTransform);
        Transform("output_transform", m.OutputTransform);
        if (m.Spectrum is { } spectrum)
        {
            j.WriteStartObject("spectrum");
            Numbers("weight", spectrum.Weight);
            Numbers("residual", spectrum.Residual);
            j.WriteEndObject();
        }
        j.WriteEndObject();
    }

    private void Numbers(string name, float[] values)
    {
        _json.WriteStartArray(name);
        foreach (float v in values) _json.WriteNumberValue(v);
        _json.WriteEndArray();
    }

    private void Transform(string name, TransformData? t)
    {
        var j = _json;
        if (t is null)
        {
            j.WriteNull(name);
            return;
        }
        j.WriteStartObject(name);
        j.WriteNumber("length", t.Length);
        j.WriteNumber("block_order", t.BlockOrder);
        j.WriteBoolean("hadamard", t.IsHadamard);
        // Matrices of one dimension share their transform: its sections are stored once and referenced again.
        string key = t.ContentKey();
        if (!_sharedTransforms.TryGetValue(key, out var shared))
        {
            long signs = Reserve(BitPacking.PackedLength(t.Length, 1), () => BitPacking.PackSigns(t.Signs.Span));
            long block = t.IsHadamard ? -1 : Reserve(4L * t.FallbackBlock.Length, () => MemoryMarshal.AsBytes(t.FallbackBlock.Span));
            _sharedTransforms[key] = shared = (signs, block);
        }
        j.WritePropertyName("signs");
        SectionAt(CaldNames.Packed(1), [t.Length], BitPacking.PackedLength(t.Length, 1), shared.Signs);
        if (!t.IsHadamard)
        {
            j.WritePropertyName("fallback_block");
            SectionAt("f32", [t.BlockOrder, t.BlockOrder], 4L * t.FallbackBlock.Length, shared.Block);
        }
        j.WriteEndObject();
    }

    /// <param name="words">The words, read when the section is written.</param>
    private void Words(int count, Func<ReadOnlyMemory<ushort>> words, long[] shape) =>
        Section("u16", shape, 2L * count, () => MemoryMarshal.AsBytes(words().Span));

    /// <param name="halves">The values, read when the section is written.</param>
    private void Halves(int count, Func<ReadOnlyMemory<Half>> halves, long[] shape) =>
        Section("f16", shape, 2L * count, () => MemoryMarshal.AsBytes(halves().Span));

    private void Bytes(string name, string dtype, ReadOnlyMemory<byte> bytes)
    {
        _json.WritePropertyName(name);
        Section(dtype, [bytes.Length], bytes.Length, () => bytes.Span);
    }

    /// <summary>Writes the section object {dtype, shape, offset, length} as the current value and reserves its bytes.</summary>
    private void Section(string dtype, long[] shape, long length, SectionBytes bytes)
    {
        _json.WriteStartObject();
        SectionFields(dtype, shape, length, bytes);
        _json.WriteEndObject();
    }

    /// <summary>Writes a section's fields into the current object and reserves its bytes at the next aligned offset.</summary>
    private void SectionFields(string dtype, long[] shape, long length, SectionBytes bytes) =>
        WriteSectionFields(dtype, shape, length, Reserve(length, bytes));

    /// <summary>Reserves <paramref name="length"/> bytes at the next aligned offset and returns it.</summary>
    private long Reserve(long length, SectionBytes bytes)
    {
        long offset = CaldLayout.Align(_cursor);
        _sections.Add(new PlannedSection(offset, length, bytes));
        _cursor = offset + length;
        return offset;
    }

    /// <summary>Writes the section object for bytes already reserved at <paramref name="offset"/>.</summary>
    private void SectionAt(string dtype, long[] shape, long length, long offset)
    {
        _json.WriteStartObject();
        WriteSectionFields(dtype, shape, length, offset);
        _json.WriteEndObject();
    }

    private void WriteSectionFields(string dtype, long[] shape, long length, long offset)
    {
        var j = _json;
        j.WriteString("dtype", dtype);
        j.WriteStartArray("shape");
        foreach (long d in shape) j.WriteNumberValue(d);
        j.WriteEndArray();
        j.WriteNumber("offset", offset);
        j.WriteNumber("length", length);
    }
}
