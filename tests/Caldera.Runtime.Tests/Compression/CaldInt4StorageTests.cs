using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;
using static Caldera.Runtime.Tests.Compression.CaldInt6StorageTests;

namespace Caldera.Runtime.Tests.Compression;

/// <summary>The embedding (and a classifier stored as it is) as <c>int4_blocks</c>, format version 3.</summary>
public unsafe class CaldInt4StorageTests
{
    [Fact]
    public void Int4_embedding_and_classifier_round_trip_and_the_classifier_runs_on_the_mapped_bytes()
    {
        using var dir = new TempDirectory();
        var content = WithInt4Vocabulary(SyntheticCompressed.Model());
        string path = dir.File("model.cald");
        CaldWriter.Write(path, content);
        using var file = CaldFile.Open(path);
        Assert.Equal(3u, file.Version);
        foreach (string name in new[] { TensorNames.TokenEmbedding, TensorNames.Output })
        {
            var (written, read) = (Dense(content, name), Dense(file.Content, name));
            Assert.Equal(TensorType.Int4Blocks, read.Type);
            Assert.Equal(written.Shape, read.Shape);
            Assert.Equal(written.Data.ToArray(), read.Data.ToArray());
        }
        Assert.Contains("\"dtype\":\"int4_blocks\"", CaldFiles.Manifest(File.ReadAllBytes(path)));

        using var fromFile = new CompressedModelWeights(file.Content, path);
        using var fromContent = new CompressedModelWeights(content);
        using (var pool = new WorkerPool(1))
            Assert.IsType<Int4DenseLinear>(fromFile.Bind(new LinearBinding(pool)).Classifier);
        int[] tokens = [1, 5, 9, 30, 2];
        Assert.Equal(Logits(content.Config, fromContent, tokens), Logits(file.Content.Config, fromFile, tokens));
    }

    [Fact]
    public void The_int4_classifier_computes_the_decoded_rows_times_the_input_for_one_token_and_for_a_batch()
    {
        const int rows = 301, columns = 2048 + 40, n = 3;
        var d = SyntheticCompressed.Dense(TensorNames.Output, [rows, columns], TensorType.F32, new Random(7), 0.1f);
        var int4 = ToInt4(d);
        fixed (byte* p = int4.Data.Span)
        {
            var view = new TensorView(int4.Name, int4.Shape, int4.Type, p);
            var decoded = view.ToArray();
            var x = Kernels.KernelData.Floats(n * columns, seed: 11);
            using var pool = new WorkerPool(2);
            var linear = new Int4DenseLinear(view, pool);
            var batch = new float[n * rows];
            linear.ApplyBatch(x, batch, n);
            var one = new float[rows];
            for (int t = 0; t < n; t++)
            {
                linear.Apply(x.AsSpan(t * columns, columns), one);
                Assert.Equal(batch.AsSpan(t * rows, rows).ToArray(), one); // a token's logits do not depend on the batch
                for (int r = 0; r < rows; r++)
                {
                    double dot = 0, abs = 0;
                    for (int i = 0; i < columns; i++)
                    {
                        dot += (double)decoded[r * columns + i] * x[t * columns + i];
                        abs += Math.Abs((double)decoded[r * columns + i] * x[t * columns + i]);
                    }
                    // fp32 dot product of 2088 terms: a few hundred ε of Σ|terms| at most.
                    Assert.True(Math.Abs(one[r] - dot) <= 1e-5 * abs, $"row {r} token {t}: {one[r]} vs {dot}");
                }
            }
        }
    }

    [Fact]
    public void Corrupt_int4_tensors_are_rejected_with_the_file_and_the_tensor_named()
    {
        using var dir = new TempDirectory();
        string good = dir.File("good.cald");
        CaldWriter.Write(good, WithInt4Vocabulary(SyntheticCompressed.Model()));
        byte[] bytes = File.ReadAllBytes(good);

        Reject(dir, AsVersion(bytes, 2), "'int4_blocks' needs format version 3, but the header says 2");

        var embedding = DenseEntry(bytes, TensorNames.TokenEmbedding);
        long offset = (long)embedding["offset"]!, length = (long)embedding["length"]!;
        var config = JsonNode.Parse(CaldFiles.Manifest(bytes))!["config"]!;
        int rows = (int)config["vocab_size"]!, columns = (int)config["dim"]!;
        Assert.Equal(TensorType.Int4Blocks.ByteLength([rows, columns]), length);
        foreach (ushort scale in new ushort[] { 0x7FC0, 0x7F80, 0xBF80 }) // NaN, +∞, −1
        {
            var patched = (byte[])bytes.Clone();
            BinaryPrimitives.WriteUInt16LittleEndian(patched.AsSpan((int)(offset + Int4Blocks.MatrixPlaneBytes(rows, columns) + 2 * 5)), scale);
            BinaryPrimitives.WriteUInt64LittleEndian(patched.AsSpan(CaldLayout.ChecksumOffset), CaldLayout.Checksum(patched));
            Reject(dir, patched, "tensor 'token_embd.weight': scale 5 is negative, NaN or infinite");
        }
        Reject(dir, WithDenseField(bytes, TensorNames.TokenEmbedding, "length", length + 64), $"{length + 64} bytes, but int4_blocks [{rows}, {columns}] needs {length}");
        Reject(dir, WithDenseField(bytes, TensorNames.OutputNorm, "dtype", "int4_blocks"), "'int4_blocks' stores matrices, not a tensor of shape [16]");
    }

    [Fact]
    public void Only_the_embedding_and_the_classifier_may_be_stored_as_int4_blocks()
    {
        var content = SyntheticCompressed.Model();
        var dense = content.DenseTensors.Select(d => d.Name == TensorNames.Query(1) ? ToInt4(d) : d).ToList();
        var e = Assert.Throws<ArgumentException>(() => CaldWriter.Write(Path.Combine(Path.GetTempPath(), "never-written.cald"), content with { DenseTensors = dense }));
        Assert.Contains("blk.1.attn_q.weight: is stored as Int4Blocks, which only the token embedding and the classifier may be", e.Message);
    }

    /// <summary><paramref name="content"/> with its embedding and a random classifier in 4-bit blocks.</summary>
    internal static CompressedModelContent WithInt4Vocabulary(CompressedModelContent content)
    {
        var c = content.Config;
        var classifier = SyntheticCompressed.Dense(TensorNames.Output, [c.VocabSize, c.Dim], TensorType.F16, new Random(17), 0.1f);
        return content with
        {
            DenseTensors = [.. content.DenseTensors.Select(d => d.Name == TensorNames.TokenEmbedding ? ToInt4(d) : d), ToInt4(classifier)],
            Matrices = [.. content.Matrices.Where(m => m.Name != TensorNames.Output)],
        };
    }

    private static DenseTensorData ToInt4(DenseTensorData d) => SyntheticCompressed.ToBlocks(d, TensorType.Int4Blocks);
}
