using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tests.Kernels;

namespace Caldera.Runtime.Tests.Inference;

/// <summary>What every quantised classifier copy shares (<see cref="QuantizedDenseLinear"/>): batches, argument checks, the size limit.</summary>
public unsafe class QuantizedDenseLinearTests
{
    [Theory]
    [InlineData(nameof(ClassifierPrecision.Int8), 1)]
    [InlineData(nameof(ClassifierPrecision.Int8), 2)]
    [InlineData(nameof(ClassifierPrecision.Int6), 1)]
    [InlineData(nameof(ClassifierPrecision.Int6), 2)]
    public void A_batch_gives_every_token_the_logits_it_gets_alone(string precisionName, int threads)
    {
        var precision = Enum.Parse<ClassifierPrecision>(precisionName);
        // 1001 rows: chunks and batch tiles of 16 rows both end mid-way; 300 columns end mid-block (and, for the 6-bit
        // copy, mid-group); 1001 × 300 is enough work to run on two threads.
        const int rows = 1001, columns = 300, n = 5;
        var (stored, _) = KernelData.Weights(rows * columns, TensorType.F16, seed: 21);
        using var pool = new WorkerPool(threads);
        var matrix = Copy(precision, stored, rows, columns, TensorType.F16, pool);
        var x = KernelData.Floats(n * columns, seed: 22, scale: 3f);
        var batch = new float[n * rows];
        matrix.ApplyBatch(x, batch, n);
        using var onePool = new WorkerPool(1);
        var single = Copy(precision, stored, rows, columns, TensorType.F16, onePool);
        var alone = new float[rows];
        for (int t = 0; t < n; t++)
        {
            single.Apply(x.AsSpan(t * columns, columns), alone);
            Assert.True(alone.AsSpan().SequenceEqual(batch.AsSpan(t * rows, rows)), $"{precision} token {t}");
        }
    }

    [Theory]
    [InlineData(nameof(ClassifierPrecision.Int8))]
    [InlineData(nameof(ClassifierPrecision.Int6))]
    public void Wrong_input_and_output_sizes_are_rejected_with_the_layers_name(string precisionName)
    {
        var precision = Enum.Parse<ClassifierPrecision>(precisionName);
        const int rows = 5, columns = 40;
        var (stored, _) = KernelData.Weights(rows * columns, TensorType.F32, seed: 23);
        using var pool = new WorkerPool(1);
        var matrix = Copy(precision, stored, rows, columns, TensorType.F32, pool);
        var error = Assert.Throws<ArgumentException>(() => matrix.Apply(new float[columns + 1], new float[rows]));
        Assert.Contains("w: expected x of 1×40 and y of 1×5", error.Message);
        Assert.Throws<ArgumentException>(() => matrix.Apply(new float[columns], new float[rows - 1]));
        Assert.Throws<ArgumentException>(() => matrix.ApplyBatch(new float[2 * columns], new float[2 * rows], 0));
        Assert.Throws<ArgumentException>(() => matrix.ApplyBatch(new float[2 * columns], new float[3 * rows], 2));
    }

    [Theory]
    [InlineData(nameof(ClassifierPrecision.Int8))]
    [InlineData(nameof(ClassifierPrecision.Int6))]
    public void A_matrix_too_large_for_one_array_is_refused_before_anything_is_read_or_allocated(string precisionName)
    {
        var precision = Enum.Parse<ClassifierPrecision>(precisionName);
        // 100000 × 32768 entries are 3.3·10⁹ int8 levels or 2.46·10⁹ 6-bit plane bytes, over Array.MaxLength; the
        // view's memory is never touched (it does not exist).
        using var pool = new WorkerPool(1);
        var view = new TensorView("output.weight", [100000, 32768], TensorType.F16, (byte*)64);
        var error = Assert.Throws<ArgumentException>(() => precision == ClassifierPrecision.Int8
            ? new Int8DenseLinear(view, pool)
            : (QuantizedDenseLinear)new Int6DenseLinear(view, pool));
        Assert.Contains("output.weight", error.Message);
        Assert.Contains("ClassifierPrecision", error.Message);
    }

    /// <summary>The quantised copy of a [rows, columns] matrix stored in <paramref name="stored"/>, which it reads only while it is built.</summary>
    private static QuantizedDenseLinear Copy(ClassifierPrecision precision, byte[] stored, int rows, int columns, TensorType type, WorkerPool pool)
    {
        fixed (byte* p = stored)
        {
            var view = new TensorView("w", [rows, columns], type, p);
            return precision == ClassifierPrecision.Int8 ? new Int8DenseLinear(view, pool) : new Int6DenseLinear(view, pool);
        }
    }
}
