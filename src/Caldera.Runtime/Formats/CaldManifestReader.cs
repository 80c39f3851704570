using System.Text.Json;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Formats;

/// <summary>
/// Reads the JSON manifest of a verified <c>.cald</c> mapping into a <see cref="CompressedModelContent"/>. Every
/// section must have the dtype and shape its tensor implies, the byte length they imply, a 64-byte-aligned
/// offset, and lie between the header and the manifest without overlapping another; only then is a view made.
/// Sizes are computed from dimensions already range-checked, in 64-bit arithmetic.
/// </summary>
internal sealed unsafe class CaldManifestReader
{
    private readonly ByteSource _file;
    private readonly uint _version;
    private readonly long _sectionsEnd;
    private readonly List<(long Offset, long Length, string Name, bool Shareable)> _sections = [];

    /// <summary>Offsets of fallback blocks already checked orthogonal (matrices share transforms).</summary>
    private readonly HashSet<long> _orthogonalBlocks = [];

    /// <summary>
    /// Transforms read so far, by their sections: every matrix of one dimension names the same signs (and block), so the
    /// signs are unpacked once per distinct transform, and the matrices share one <see cref="TransformData"/>.
    /// </summary>
    private readonly Dictionary<(long Signs, long Block, int Length, int Order), TransformData> _transforms = [];

    private CaldManifestReader(ByteSource file, uint version, long sectionsEnd)
    {
        _file = file;
        _version = version;
        _sectionsEnd = sectionsEnd;
    }

    private string Path => _file.Path;

    /// <summary>
    /// The content, and its <see cref="BitsPerWeight"/> counted from the tensors and the file's length.
    /// <paramref name="tokenizerRead"/>, if given, receives the tokenizer's payload and the file's name as soon as the manifest
    /// is parsed, before the tensors are checked, so that an app can build its tokenizer beside those checks.
    /// </summary>
    public static (CompressedModelContent Content, BitsPerWeight Bits) Read(ByteSource file, uint version, long offset, long length,
        Action<TokenizerPayload, string>? tokenizerRead = null)
    {
        byte[] manifest = file.Span(offset, (int)length, "the manifest").ToArray();
        using var document = JsonFile.Parse(file.Path, manifest, "the manifest");
        return new CaldManifestReader(file, version, offset).Model(new JsonSettings(file.Path, document.RootElement), tokenizerRead);
    }

    private (CompressedModelContent, BitsPerWeight) Model(JsonSettings m, Action<TokenizerPayload, string>? tokenizerRead)
    {
        if (m.RequireString("format") != "cald") throw m.Error("format", "is not \"cald\"");
        if (m.RequireInt64("format_version") != _version) throw m.Error("format_version", $"does not match the header's version {_version}");
        string architecture = m.RequireString("architecture");
        if (architecture != "llama") throw m.Error("architecture", $"'{architecture}' is not supported (only llama)");
        var config = Config(m.RequireObject("config"));
        var bits = m.RequireObject("bits_per_weight");

        var dense = new List<DenseTensorData>();
        var expected = TensorNames.Expected(config).ToDictionary(e => e.Name, e => e.Shape, StringComparer.Ordinal);
        var denseItems = m.RequireArray("dense_tensors");
        for (int i = 0; i < denseItems.Length; i++) dense.Add(Dense(m.Item("dense_tensors", i, denseItems[i]), expected));
        var matrices = new List<CompressedLinearData>();
        var matrixItems = m.RequireArray("matrices");
        for (int i = 0; i < matrixItems.Length; i++) matrices.Add(Matrix(m.Item("matrices", i, matrixItems[i])));

        var content = new CompressedModelContent
        {
            Config = config,
            Tokenizer = m.Object("tokenizer") is { } t ? Tokenizer(t) : null,
            DenseTensors = dense,
            Matrices = matrices,
            Settings = Settings(m.RequireObject("compression")),
            SourceSha256 = m.RequireString("source_sha256"),
            ToolVersion = m.RequireString("tool_version"),
        };
        // The payload's bounds are checked by now (Tokenizer); the tensors' checks below do not concern it.
        if (content.Tokenizer is { } payload) tokenizerRead?.Invoke(payload, Path);
        CheckOverlaps();
        if (CompressedModelCheck.FindProblem(content) is var (name, problem))
            throw ModelFormatException.ForTensor(Path, name, problem);
        var weights = m.RequireObject("weights");
        var counted = BitsPerWeight.Of(content, _file.Length);
        if (weights.RequireInt64("total") != counted.Parameters)
            throw weights.Error("total", $"{weights.RequireInt64("total")} ≠ {counted.Parameters}, the weights of the tensors the manifest lists");
        if (weights.RequireInt64("linear_layers") != counted.LinearLayerWeights)
            throw weights.Error("linear_layers", $"{weights.RequireInt64("linear_layers")} ≠ {counted.LinearLayerWeights}, the weights of the block matrices the manifest lists");
        // The recorded figures are for people reading the manifest; what the tools print is recounted from the tensors and the file.
        bits.RequireReal("file");
        bits.RequireReal("linear_layers");
        return (content, counted);
    }

    private LlamaConfig Config(JsonSettings c)
    {
        RopeScaling? scaling = c.Object("rope_scaling") is { } r
            ? new RopeScaling(r.RequireSingle("factor"), r.RequireSingle("low_freq_factor"), r.RequireSingle("high_freq_factor"), r.RequireInt32("original_context_length"))
            : null;
        // Absent in files without per-pair factors (and in files written before the key existed).
        RopeFrequencyFactors? factors = c.Has("rope_freq_factors") ? new RopeFrequencyFactors(Floats(c, "rope_freq_factors")) : null;
        string pairing = c.RequireString("rope_pairing");
        var config = new LlamaConfig
        {
            Dim = c.RequireInt32("dim"),
            HiddenDim = c.RequireInt32("hidden_dim"),
            LayerCount = c.RequireInt32("layers"),
            HeadCount = c.RequireInt32("heads"),
            KvHeadCount = c.RequireInt32("kv_heads"),
            HeadDim = c.RequireInt32("head_dim"),
            VocabSize = c.RequireInt32("vocab_size"),
            ContextLength = c.RequireInt32("context_length"),
            NormEpsilon = c.RequireSingle("norm_epsilon"),
            RopeTheta = c.RequireSingle("rope_theta"),
            RopePairing = CaldNames.Pairing(pairing) ?? throw c.Error("rope_pairing", $"'{pairing}' is not interleaved or rotate_half"),
            RopeScaling = scaling,
            RopeFrequencyFactors = factors,
            TiedClassifier = c.RequireBool("tied_classifier"),
        };
        return config.Validate(Path, name => "config." + ConfigName(name));
    }

    /// <summary>An array of numbers, each stored as a float.</summary>
    private static float[] Floats(JsonSettings settings, string name) =>
        settings.RequireArray(name).Select((e, i) => e.ValueKind == System.Text.Json.JsonValueKind.Number && e.TryGetSingle(out float f)
            ? f : throw settings.Error($"{name}[{i}]", "is not a number")).ToArray();

    private static string ConfigName(string property) => property switch
    {
        nameof(LlamaConfig.Dim) => "dim",
        nameof(LlamaConfig.HiddenDim) => "hidden_dim",
        nameof(LlamaConfig.LayerCount) => "layers",
        nameof(LlamaConfig.HeadCount) => "heads",
        nameof(LlamaConfig.KvHeadCount) => "kv_heads",
        nameof(LlamaConfig.HeadDim) => "head_dim",
        nameof(LlamaConfig.VocabSize) => "vocab_size",
        nameof(LlamaConfig.ContextLength) => "context_length",
        nameof(LlamaConfig.NormEpsilon) => "norm_epsilon",
        nameof(LlamaConfig.RopeTheta) => "rope_theta",
        nameof(LlamaConfig.RopeFrequencyFactors) => "rope_freq_factors",
        nameof(LlamaConfig.RopeScaling) => "rope_scaling",
        _ => property,
    };

    private static CompressionSettings Settings(JsonSettings s) => new()
    {
        Method = s.RequireString("method") is var method && CaldNames.Methods.Contains(method) ? method
            : throw s.Error("method", $"'{method}' is not one of {string.Join(", ", CaldNames.Methods)}"),
        Rank = s.RequireInt32("rank"),
        QBits = s.RequireInt32("q_bits"),
        FactorBits = s.RequireInt32("factor_bits"),
        Preset = s.RequireString("preset"),
        OuterIterations = s.RequireInt32("outer_iterations"),
        InnerIterations = s.RequireInt32("inner_iterations"),
        RefinementSweeps = s.RequireInt32("refinement_sweeps"),
        RandomizedHadamard = s.RequireBool("randomized_hadamard"),
        HessianDowndate = s.RequireBool("hessian_downdate"),
        Regularization = s.RequireReal("regularization"),
        Seed = s.RequireUInt64("seed"),
        Calibration = s.RequireString("calibration"),
        CalibrationSamples = s.RequireInt32("calibration_samples"),
        CalibrationSequenceLength = s.RequireInt32("calibration_sequence_length"),
    };

    private TokenizerPayload Tokenizer(JsonSettings t)
    {
        string kindName = t.RequireString("kind");
        var kind = CaldNames.Tokenizer(kindName)
            ?? throw t.Error("kind", $"'{kindName}' is not one of {string.Join(", ", CaldNames.TokenizerNames)}");
        var data = ByteSection(t, "data");
        var config = t.Object("config") is null ? ReadOnlyMemory<byte>.Empty : ByteSection(t, "config");
        return new TokenizerPayload(kind, data, config);
    }

    private ReadOnlyMemory<byte> ByteSection(JsonSettings parent, string name)
    {
        long length = parent.RequireObject(name).RequireShape("shape") is [var n] ? n : throw parent.Error(name + ".shape", "must have one dimension");
        return View<byte>(Section(parent, name, "u8", [length]), length);
    }

    private DenseTensorData Dense(JsonSettings d, Dictionary<string, long[]> expected)
    {
        string name = d.RequireString("name");
        if (!expected.TryGetValue(name, out var shape))
            throw ModelFormatException.ForTensor(Path, name, "is not a tensor of this architecture");
        string dtype = d.RequireString("dtype");
        var type = CaldNames.Dtype(dtype) ?? throw d.Error("dtype", $"'{dtype}' is not one of {string.Join(", ", CaldNames.DtypeNames)}");
        if (type == TensorType.Int6Blocks && _version < 2)
            throw d.Error("dtype", $"'{dtype}' needs format version 2, but the header says {_version} (a corrupt or forged file)");
        if (type == TensorType.Int4Blocks && _version < 3)
            throw d.Error("dtype", $"'{dtype}' needs format version 3, but the header says {_version} (a corrupt or forged file)");
        long offset = Section(d, null, dtype, shape);
        long bytes = type.ByteLength(shape);
        return new DenseTensorData(name, shape, type, View<byte>(offset, bytes));
    }

    private CompressedLinearData Matrix(JsonSettings item)
    {
        string name = item.RequireString("name");
        int rows = item.RequireInt32("rows"), columns = item.RequireInt32("columns");
        if (rows <= 0 || columns <= 0 || rows > LlamaConfig.MaxDimension || columns > LlamaConfig.MaxDimension)
            throw ModelFormatException.ForTensor(Path, name, $"shape {rows}×{columns} is out of range (1..{LlamaConfig.MaxDimension})");
        var q = item.RequireObject("q");
        string kindName = q.RequireString("kind");
        var kind = CaldNames.QKind(kindName) ?? throw q.Error("kind", $"'{kindName}' is not e8p or uniform");
        int qBits = q.RequireInt32("bits");
        if (kind == QCodeKind.Uniform && qBits is < 2 or > 8) throw q.Error("bits", $"{qBits} is outside 2..8");
        int wordsPerRow = q.RequireInt32("words_per_row");
        int expectedWords = kind == QCodeKind.E8P ? E8PLattice.VectorCount(columns) : columns;
        if (wordsPerRow != expectedWords) throw q.Error("words_per_row", $"{wordsPerRow} ≠ {expectedWords} for {columns} columns");
        long count = (long)rows * wordsPerRow;
        ReadOnlyMemory<ushort> qCodes = kind == QCodeKind.Uniform
            ? BitPacking.Unpack(Bytes(Section(q, "codes", CaldNames.Packed(qBits), [rows, columns]), BitPacking.PackedLength(count, qBits)), (int)count, qBits)
            : View<ushort>(Section(q, "codes", "u16", [rows, wordsPerRow]), count);

        int rank = item.RequireInt32("rank"), factorBits = item.RequireInt32("factor_bits");
        if (rank < 0 || rank > Math.Min(rows, columns)) throw item.Error("rank", $"{rank} is outside 0..{Math.Min(rows, columns)}");
        if (factorBits is not (4 or 16)) throw item.Error("factor_bits", $"{factorBits} is not 4 or 16");
        ReadOnlyMemory<ushort> lCodes = default, rCodes = default;
        ReadOnlyMemory<Half> l = default, r = default;
        if (rank > 0 && factorBits == 4)
        {
            int lWords = E8PResidualLattice.WordCount(rows), rWords = E8PResidualLattice.WordCount(columns);
            lCodes = View<ushort>(Section(item, "l_transposed", "u16", [rank, lWords]), (long)rank * lWords);
            rCodes = View<ushort>(Section(item, "r", "u16", [rank, rWords]), (long)rank * rWords);
        }
        else if (rank > 0)
        {
            l = View<Half>(Section(item, "l", "f16", [rows, rank]), (long)rows * rank);
            r = View<Half>(Section(item, "r", "f16", [rank, columns]), (long)rank * columns);
        }

        return new CompressedLinearData
        {
            Name = name,
            Rows = rows,
            Columns = columns,
            GlobalScale = item.RequireSingle("global_scale"),
            RelativeError = item.RequireReal("relative_error"),
            // Absent in files written before caldera report existed; the report then leaves the spectra out.
            Spectrum = item.Object("spectrum") is { } spectrum ? new MatrixSpectrum(Floats(spectrum, "weight"), Floats(spectrum, "residual")) : null,
            QKind = kind,
            QBits = qBits,
            QCodes = qCodes,
            QWordsPerRow = wordsPerRow,
            QScale = q.RequireSingle("scale"),
            Rank = rank,
            FactorBits = factorBits,
            LTransposedCodes = lCodes,
            LTransposedScale = item.RequireSingle("l_transposed_scale"),
            RCodes = rCodes,
            RScale = item.RequireSingle("r_scale"),
            L = l,
            R = r,
            InputTransform = item.Object("input_transform") is { } input ? Transform(input, columns) : null,
            OutputTransform = item.Object("output_transform") is { } output ? Transform(output, rows) : null,
        };
    }

    private TransformData Transform(JsonSettings t, int length)
    {
        if (t.RequireInt32("length") != length) throw t.Error("length", $"≠ {length}, the dimension of its side of the matrix");
        int order = t.RequireInt32("block_order");
        if (order <= 0 || order > length) throw t.Error("block_order", $"{order} is outside 1..{length}");
        bool hadamard = t.RequireBool("hadamard");
        long signsOffset = Section(t, "signs", CaldNames.Packed(1), [length], shareable: true);
        long offset = hadamard ? -1 : Section(t, "fallback_block", "f32", [order, order], shareable: true);
        var key = (signsOffset, offset, length, order);
        if (_transforms.TryGetValue(key, out var read)) return read;
        var signs = BitPacking.UnpackSigns(Bytes(signsOffset, BitPacking.PackedLength(length, 1)), length);
        if (hadamard) return _transforms[key] = new TransformData(length, order, hadamard, signs, ReadOnlyMemory<float>.Empty);
        var block = View<float>(offset, (long)order * order);
        if (_orthogonalBlocks.Add(offset) && OrthogonalityError(block.Span, order) is var error && !(error <= OrthogonalityTolerance))
            throw t.Error("fallback_block", $"is not orthogonal (‖B·Bᵀ·x − x‖/‖x‖ = {error:G3} for a test vector x, over {OrthogonalityTolerance}); the file is corrupt");
        return _transforms[key] = new TransformData(length, order, hadamard, signs, block);
    }

    /// <summary>
    /// Float32 rounding in an orthogonal block of order ≤ <see cref="Incoherence.HadamardTransform.MaxFallbackBlock"/>
    /// leaves B·Bᵀ·x within about 1e-5 of x; a zeroed, scaled or overwritten block is off by order 1 or more.
    /// </summary>
    private const double OrthogonalityTolerance = 1e-3;

    /// <summary>‖B·(Bᵀ·x) − x‖/‖x‖ for a fixed ±1 vector x: O(order²) where forming B·Bᵀ would be O(order³).</summary>
    private static double OrthogonalityError(ReadOnlySpan<float> block, int order)
    {
        var x = new double[order];
        var random = new Random(order);
        for (int i = 0; i < order; i++) x[i] = random.Next(2) == 0 ? -1 : 1;
        var y = new double[order]; // y = Bᵀ·x
        for (int i = 0; i < order; i++)
        {
            var row = block.Slice(i * order, order);
            for (int j = 0; j < order; j++) y[j] += row[j] * x[i];
        }
        double error = 0;
        for (int i = 0; i < order; i++)
        {
            var row = block.Slice(i * order, order);
            double z = 0;
            for (int j = 0; j < order; j++) z += row[j] * y[j];
            error += (z - x[i]) * (z - x[i]);
        }
        return Math.Sqrt(error / order); // ‖x‖² = order; NaN for a block with NaN or infinities
    }

    /// <summary>
    /// Checks section <paramref name="name"/> of <paramref name="parent"/> (or <paramref name="parent"/> itself
    /// when null) against its expected dtype, shape and implied length, and its place in the file; returns its offset.
    /// </summary>
    private long Section(JsonSettings parent, string? name, string dtype, long[] shape, bool shareable = false)
    {
        var s = name is null ? parent : parent.RequireObject(name);
        string what = name is null ? parent.FullName("tensor") : parent.FullName(name);
        string actualDtype = s.RequireString("dtype");
        if (actualDtype != dtype) throw s.Error("dtype", $"'{actualDtype}' where '{dtype}' is expected");
        long[] actualShape = s.RequireShape("shape");
        if (!actualShape.AsSpan().SequenceEqual(shape))
            throw s.Error("shape", $"[{string.Join(", ", actualShape)}] does not match the [{string.Join(", ", shape)}] its tensor implies");
        long count = CompressedModelCheck.Count(shape);
        long expected = dtype switch
        {
            "u8" => count,
            "u16" or "f16" or "bf16" => 2 * count,
            "f32" => 4 * count,
            "int6_blocks" when shape.Length == 2 => TensorType.Int6Blocks.ByteLength(shape),
            "int4_blocks" when shape.Length == 2 => TensorType.Int4Blocks.ByteLength(shape),
            "int6_blocks" or "int4_blocks" => throw s.Error("dtype", $"'{dtype}' stores matrices, not a tensor of shape [{string.Join(", ", shape)}]"),
            _ when dtype.StartsWith("packed", StringComparison.Ordinal) => BitPacking.PackedLength(count, int.Parse(dtype.AsSpan(6), provider: System.Globalization.CultureInfo.InvariantCulture)),
            _ => throw s.Error("dtype", $"'{dtype}' is unknown"),
        };
        long offset = s.RequireInt64("offset"), length = s.RequireInt64("length");
        if (length != expected) throw s.Error("length", $"{length} bytes, but {dtype} [{string.Join(", ", shape)}] needs {expected}");
        if (length > int.MaxValue) throw s.Error("length", $"{length} bytes: sections over 2 GiB are not supported");
        if (offset % CaldLayout.Alignment != 0) throw s.Error("offset", $"{offset} is not a multiple of {CaldLayout.Alignment}");
        if (offset < CaldLayout.HeaderSize || offset > _sectionsEnd || length > _sectionsEnd - offset)
            throw s.Error("offset", $"{what} spans bytes {offset}..{offset + length}, outside the section area {CaldLayout.HeaderSize}..{_sectionsEnd} of the {_file.Length}-byte file (truncated or corrupt)");
        _sections.Add((offset, length, what, shareable));
        return offset;
    }

    private void CheckOverlaps()
    {
        _sections.Sort((a, b) => a.Offset.CompareTo(b.Offset));
        for (int i = 1; i < _sections.Count; i++)
        {
            var (previous, next) = (_sections[i - 1], _sections[i]);
            // Shared transforms are referenced by several matrices: the same section, not an overlap. Nothing else is shared.
            if (previous.Offset == next.Offset && previous.Length == next.Length && previous.Shareable && next.Shareable) continue;
            if (previous.Offset + previous.Length > next.Offset)
                throw new ModelFormatException(Path, $"sections overlap: {previous.Name} at {previous.Offset}..{previous.Offset + previous.Length} and {next.Name} at {next.Offset}; the manifest is corrupt");
        }
    }

    private ReadOnlyMemory<T> View<T>(long offset, long count) where T : unmanaged
    {
        long bytes = count * sizeof(T);
        return new MappedMemory<T>(_file.At(offset, bytes, "a section"), (int)count).Memory;
    }

    private ReadOnlySpan<byte> Bytes(long offset, long length) => _file.Span(offset, (int)length, "a section");
}
