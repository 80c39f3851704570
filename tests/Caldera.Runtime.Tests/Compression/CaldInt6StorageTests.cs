using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Tests.Compression;

/// <summary>The embedding and the classifier stored as <c>int6_blocks</c> (format version 2), and version-1 files.</summary>
public unsafe class CaldInt6StorageTests
{
    [Fact]
    public void Int6_embedding_and_classifier_round_trip_and_the_classifier_runs_on_the_mapped_bytes()
    {
        using var dir = new TempDirectory();
        var content = WithInt6Vocabulary(SyntheticCompressed.Model());
        string path = dir.File("model.cald");
        CaldWriter.Write(path, content);
        using var file = CaldFile.Open(path);
        Assert.Equal(CaldLayout.Version, file.Version);
        foreach (string name in new[] { TensorNames.TokenEmbedding, TensorNames.Output })
        {
            var (written, read) = (Dense(content, name), Dense(file.Content, name));
            Assert.Equal(TensorType.Int6Blocks, read.Type);
            Assert.Equal(written.Shape, read.Shape);
            Assert.Equal(written.Data.ToArray(), read.Data.ToArray());
        }
        Assert.Contains("\"dtype\":\"int6_blocks\"", CaldFiles.Manifest(File.ReadAllBytes(path)));

        // The file's model computes what the content does, bit for bit, and its classifier reads the mapped bytes.
        using var fromFile = new CompressedModelWeights(file.Content, path);
        using var fromContent = new CompressedModelWeights(content);
        using var pool = new WorkerPool(1);
        var bound = fromFile.Bind(new LinearBinding(pool));
        var classifier = Assert.IsType<Int6DenseLinear>(bound.Classifier);
        using (var pin = Dense(file.Content, TensorNames.Output).Data.Pin())
        fixed (byte* planes = classifier.RowPlanes(0))
            Assert.True(planes == (byte*)pin.Pointer, "the classifier is a copy, not the file's bytes");
        int[] tokens = [1, 5, 9, 30, 2];
        Assert.Equal(Logits(content.Config, fromContent, tokens), Logits(file.Content.Config, fromFile, tokens));
    }

    [Fact]
    public void A_version_1_file_reads_as_before()
    {
        using var dir = new TempDirectory();
        string path = dir.File("v2.cald");
        var content = SyntheticCompressed.Model();
        CaldWriter.Write(path, content);
        string v1 = dir.File("v1.cald");
        File.WriteAllBytes(v1, AsVersion1(File.ReadAllBytes(path)));
        using var file = CaldFile.Open(v1);
        Assert.Equal(1u, file.Version);
        Assert.Equal(content.DenseTensors.Select(d => (d.Name, d.Type)), file.Content.DenseTensors.Select(d => (d.Name, d.Type)));
        Assert.Equal(content.Matrices.Count, file.Content.Matrices.Count);
    }

    [Fact]
    public void Corrupt_int6_tensors_are_rejected_with_the_file_and_the_tensor_named()
    {
        using var dir = new TempDirectory();
        string good = dir.File("good.cald");
        CaldWriter.Write(good, WithInt6Vocabulary(SyntheticCompressed.Model()));
        byte[] bytes = File.ReadAllBytes(good);

        Reject(dir, AsVersion1(bytes), "'int6_blocks' needs format version 2, but the header says 1");

        var output = DenseEntry(bytes, TensorNames.Output);
        long offset = (long)output["offset"]!, length = (long)output["length"]!;
        var config = JsonNode.Parse(CaldFiles.Manifest(bytes))!["config"]!;
        int rows = (int)config["vocab_size"]!, columns = (int)config["dim"]!;
        Assert.Equal(TensorType.Int6Blocks.ByteLength([rows, columns]), length);
        long scaleBytes = length - Int6Blocks.MatrixPlaneBytes(rows, columns);
        // The first blocks, and the last, past the vector screen's whole 32-scale steps.
        foreach (long index in new[] { 3, scaleBytes / 2 - 1 })
            foreach (ushort scale in new ushort[] { 0x7FC0, 0x7F80, 0xBF80 }) // NaN, +∞, −1
            {
                var patched = (byte[])bytes.Clone();
                BinaryPrimitives.WriteUInt16LittleEndian(patched.AsSpan((int)(offset + Int6Blocks.MatrixPlaneBytes(rows, columns) + 2 * index)), scale);
                BinaryPrimitives.WriteUInt64LittleEndian(patched.AsSpan(CaldLayout.ChecksumOffset), CaldLayout.Checksum(patched));
                Reject(dir, patched, $"tensor 'output.weight': scale {index} is negative, NaN or infinite");
            }
        Assert.True(scaleBytes / 2 > 64, "the test's classifier has more scales than two vector steps");
        Reject(dir, WithDenseField(bytes, TensorNames.Output, "length", length - 2), $"{length - 2} bytes, but int6_blocks [{rows}, {columns}] needs {length}");
        Reject(dir, WithDenseField(bytes, TensorNames.OutputNorm, "dtype", "int6_blocks"), "'int6_blocks' stores matrices, not a tensor of shape [16]");
        Reject(dir, WithDenseField(bytes, TensorNames.Output, "dtype", "int4"), "'int4' is not one of f32, f16, bf16, int6_blocks, int4_blocks");
    }

    [Fact]
    public void Only_the_embedding_and_the_classifier_may_be_stored_as_int6_blocks()
    {
        var content = SyntheticCompressed.Model();
        var dense = content.DenseTensors.Select(d => d.Name == TensorNames.Query(1) ? ToInt6(d) : d).ToList();
        var e = Assert.Throws<ArgumentException>(() => CaldWriter.Write(Path.Combine(Path.GetTempPath(), "never-written.cald"), content with { DenseTensors = dense }));
        Assert.Contains("blk.1.attn_q.weight: is stored as Int6Blocks, which only the token embedding and the classifier may be", e.Message);
    }

    /// <summary>
    /// <paramref name="content"/> with its embedding quantised to 6-bit blocks and its classifier (compressed in the synthetic
    /// model) replaced by random weights in 6-bit blocks, as the compiler stores them.
    /// </summary>
    internal static CompressedModelContent WithInt6Vocabulary(CompressedModelContent content)
    {
        var c = content.Config;
        var classifier = SyntheticCompressed.Dense(TensorNames.Output, [c.VocabSize, c.Dim], TensorType.F16, new Random(17), 0.1f);
        return content with
        {
            DenseTensors = [.. content.DenseTensors.Select(d => d.Name == TensorNames.TokenEmbedding ? ToInt6(d) : d), ToInt6(classifier)],
            Matrices = [.. content.Matrices.Where(m => m.Name != TensorNames.Output)],
        };
    }

    private static DenseTensorData ToInt6(DenseTensorData d) => SyntheticCompressed.ToBlocks(d, TensorType.Int6Blocks);

    internal static DenseTensorData Dense(CompressedModelContent content, string name) => content.DenseTensors.Single(d => d.Name == name);

    internal static float[] Logits(LlamaConfig config, CompressedModelWeights weights, int[] tokens)
    {
        using var transformer = new Transformer(config, binding => weights.Bind(binding), new TransformerOptions { Threads = 1 });
        var logits = new float[tokens.Length * config.VocabSize];
        transformer.Prefill(tokens, 0, logits);
        return logits;
    }

    /// <summary>The file as version 1 wrote it: the same bytes with version 1 in the header and the manifest.</summary>
    private static byte[] AsVersion1(byte[] file) => AsVersion(file, 1);

    /// <summary>The same bytes with <paramref name="version"/> in the header and the manifest.</summary>
    internal static byte[] AsVersion(byte[] file, uint version)
    {
        var edited = CaldFiles.EditManifest(file, $"\"format_version\": {CaldLayout.Version}", $"\"format_version\": {version}");
        BinaryPrimitives.WriteUInt32LittleEndian(edited.AsSpan(CaldLayout.VersionOffset), version);
        BinaryPrimitives.WriteUInt64LittleEndian(edited.AsSpan(CaldLayout.ChecksumOffset), CaldLayout.Checksum(edited));
        return edited;
    }

    internal static JsonObject DenseEntry(byte[] file, string name) =>
        JsonNode.Parse(CaldFiles.Manifest(file))!["dense_tensors"]!.AsArray().Single(d => (string)d!["name"]! == name)!.AsObject();

    internal static byte[] WithDenseField(byte[] file, string name, string field, JsonNode value)
    {
        var manifest = JsonNode.Parse(CaldFiles.Manifest(file))!.AsObject();
        manifest["dense_tensors"]!.AsArray().Single(d => (string)d!["name"]! == name)![field] = value;
        return CaldFiles.WithManifest(file, manifest.ToJsonString());
    }

    internal static void Reject(TempDirectory dir, byte[] bytes, string expected)
    {
        string path = dir.File("bad.cald");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<ModelFormatException>(() => { using var _ = CaldFile.Open(path); });
        Assert.Equal(path, e.FilePath);
        Assert.True(e.Message.Contains(expected, StringComparison.Ordinal), $"'{expected}' is not in: {e.Message}");
    }
}
