using System.Runtime.CompilerServices;
using Caldera.Compiler.Calibration;
using Caldera.Compiler.Decomposition;
using Caldera.Compiler.Pipeline;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tokenization;

namespace Caldera.Compiler.Tests.Pipeline;

/// <summary>
/// With a cache directory the compressor keeps no finished block in memory: the content's matrices are read back from
/// the part files one block at a time (<see cref="StreamedMatrices"/>) when the model is written.
/// </summary>
public class StreamedMatricesTests
{
    private static readonly CalderaOptions Tiny = CalderaOptions.Fast with { Rank = 4, OuterIterations = 2, InnerIterations = 3, RefinementSweeps = 1 };

    private static CalibrationSet Calibration() =>
        CalibrationSet.Create(new CalibrationText(TestModels.TinyStoriesPrefix(20_000), "tinystories prefix"),
            ModelTokenizer.Load(TestModels.Tok512Model), samples: 4, sequenceLength: 64);

    private static readonly CompressionPlan Plan = new()
    {
        Method = CompressionMethod.Caldera, Decomposition = Tiny, ClassifierStorage = ClassifierStorage.Caldera, Threads = 2, ParallelMatrices = 2,
    };

    private static CompressedModelContent Compress(ModelCheckpoint model, string? cache) =>
        new ModelCompressor(Plan).Compress(model, Calibration(), TokenizerPayloads.FromFile(TestModels.Tok512Model), "00", cache);

    [Fact]
    public void A_model_streamed_from_its_cache_is_written_byte_for_byte_as_one_held_in_memory()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        using var temp = new TempDirectory();
        var held = Compress(model, cache: null);
        var streamed = Compress(model, temp.File("model.cald.parts"));
        Assert.IsNotType<StreamedMatrices>(held.Matrices);
        Assert.IsType<StreamedMatrices>(streamed.Matrices);
        // Five blocks of seven and the compressed classifier, part files included.
        Assert.Equal(5 * 7 + 1, streamed.Matrices.Count);

        CaldWriter.Write(temp.File("held.cald"), held);
        CaldWriter.Write(temp.File("streamed.cald"), streamed);
        Assert.Equal(File.ReadAllBytes(temp.File("held.cald")), File.ReadAllBytes(temp.File("streamed.cald")));
    }

    [Fact]
    public void Only_the_part_read_last_is_held()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        using var temp = new TempDirectory();
        var matrices = Compress(model, temp.File("model.cald.parts")).Matrices;
        var first = FirstOfBlock0(matrices);
        Assert.Equal("blk.1.attn_q.weight", matrices[7].Name);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.False(first.IsAlive, "block 0's matrices are still held after block 1 was read");
    }

    [Fact]
    public void A_part_file_removed_before_the_model_is_written_is_an_IO_error_naming_it()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        using var temp = new TempDirectory();
        string cache = temp.File("model.cald.parts");
        var content = Compress(model, cache);
        string part = Path.Combine(cache, "layer-0002.part");
        File.Delete(part);
        var e = Assert.Throws<IOException>(() => CaldWriter.Write(temp.File("model.cald"), content));
        Assert.Contains(part, e.Message);
        Assert.False(File.Exists(temp.File("model.cald")));
    }

    /// <summary>A weak reference to block 0's first matrix, made where no local of the test can keep it alive.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference FirstOfBlock0(IReadOnlyList<CompressedLinearData> matrices) => new(matrices[0]);
}
