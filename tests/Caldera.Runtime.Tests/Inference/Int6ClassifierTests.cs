using Caldera.Cli;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tests.Kernels;

namespace Caldera.Runtime.Tests.Inference;

public unsafe class Int6ClassifierTests
{
    /// <summary>
    /// W loses at most half a level per entry with a step of max_b/31 (RMS max_b/107 for uniform rounding, four times
    /// int8's), x half a level of max_b/127 as in the int8 classifier: for these models (max_b ≈ 3σ over 32 entries)
    /// W carries ≈ 3 % relative noise and x ≈ 0.7 %, independent across the vocabulary, so the logits ≈ 3 % of their
    /// spread (measured: 2.6 % on stories260K, 2.4 % on tinystories-256d). 6 % leaves room for other prompts, while a
    /// wrong scale, block, level or row (tens of percent) fails.
    /// </summary>
    private const double RelativeLogitTolerance = 0.06;

    [Theory]
    [InlineData(nameof(TensorType.F32))]
    [InlineData(nameof(TensorType.F16))]
    [InlineData(nameof(TensorType.BF16))]
    public void The_layer_is_the_kernel_on_the_quantised_rows_of_any_stored_type(string typeName)
    {
        var type = Enum.Parse<TensorType>(typeName);
        const int rows = 37, columns = 75;
        var (stored, values) = KernelData.Weights(rows * columns, type, seed: 11);
        using var pool = new WorkerPool(1);
        var matrix = Int6Copy(stored, rows, columns, type, pool);
        int rowBytes = (int)Int6Blocks.RowBytes(columns), blocks = Int6Blocks.BlockCount(columns);
        var planes = new byte[rows * rowBytes];
        var weightScales = new ushort[rows * blocks];
        for (int r = 0; r < rows; r++)
        {
            Int6Blocks.QuantizeRow(values.AsSpan(r * columns, columns), planes.AsSpan(r * rowBytes, rowBytes), weightScales.AsSpan(r * blocks, blocks));
            Assert.True(matrix.RowPlanes(r).SequenceEqual(planes.AsSpan(r * rowBytes, rowBytes)), $"row {r} planes");
            Assert.True(matrix.RowScales(r).SequenceEqual(weightScales.AsSpan(r * blocks, blocks)), $"row {r} scales");
        }
        var x = KernelData.Floats(columns, seed: 12);
        var levels = new sbyte[Int6Blocks.PaddedLength(columns)];
        var levelScales = new float[blocks];
        var offsets = new int[blocks];
        Int6Blocks.QuantizeInput(x, levels, levelScales, offsets);
        var expected = new float[rows];
        Int6BlockRows.DotRows(planes, weightScales, levels, levelScales, offsets, expected);
        var y = new float[rows];
        matrix.Apply(x, y);
        Assert.Equal(expected, y);
    }

    [Theory]
    [InlineData("stories260K")]
    [InlineData("tinystories-256d")]
    public void Int6Classifier_keeps_a_real_models_logits_within_the_quantisation_error(string name)
    {
        // Argmax changes count away from near ties only: stories260K's last prompt token, whose top two logits are 0.10
        // apart (the 6-bit classifier's RMS logit error there), may go either way.
        var (worst6, changes) = Int8ClassifierTests.LogitError(name, ClassifierPrecision.Int6);
        var (worst8, _) = Int8ClassifierTests.LogitError(name, ClassifierPrecision.Int8);
        Assert.True(worst6 <= RelativeLogitTolerance, $"{name}: 6-bit logits are {worst6:P2} of the logits' spread off");
        Assert.True(worst6 > worst8, $"{name}: 6-bit {worst6:P2} is not coarser than int8 {worst8:P2}");
        Assert.Equal(0, changes);
    }

    [Fact]
    public void Caldera_run_decodes_a_checkpoint_as_stored_unless_int8()
    {
        // stories260K's greedy story with the 6-bit classifier leaves llama2.c's at a near tie (after 175 characters), so
        // the two outputs tell which classifier caldera run used.
        string int6 = Int8ClassifierTests.Greedy200(ClassifierPrecision.Int6), stored = Int8ClassifierTests.Greedy200(ClassifierPrecision.Stored);
        Assert.NotEqual(stored, int6);
        string[] run = ["run", TestModels.Stories260KBin, "--tokenizer", TestModels.Tok512Model, "--prompt", "Once upon a time", "--steps", "200", "--temperature", "0"];
        var byDefault = new StringWriter();
        var withInt8 = new StringWriter();
        Assert.Equal(0, CalderaCli.Run(run, byDefault, new StringWriter()));
        Assert.Equal(0, CalderaCli.Run([.. run, "--int8"], withInt8, new StringWriter()));
        Assert.Equal(stored + Environment.NewLine, byDefault.ToString());
        Assert.Equal(int6 + Environment.NewLine, withInt8.ToString());
    }

    /// <summary>The 6-bit copy of a [rows, columns] matrix stored in <paramref name="stored"/>, which it reads only while it is built.</summary>
    private static Int6DenseLinear Int6Copy(byte[] stored, int rows, int columns, TensorType type, WorkerPool pool)
    {
        fixed (byte* p = stored) return new Int6DenseLinear(new TensorView("w", [rows, columns], type, p), pool);
    }
}
