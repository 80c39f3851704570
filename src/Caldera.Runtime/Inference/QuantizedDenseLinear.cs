using System.Runtime.CompilerServices;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Inference;

/// <summary>
/// A dense weight matrix quantised once, at construction, into a pinned copy of its own (the source
/// <see cref="TensorView"/> is read once and never again by the matrix; the token embedding of a tied model still reads
/// its rows), and applied to inputs quantised per token: output rows split across a <see cref="WorkerPool"/>. The
/// derived types say how rows and inputs are quantised and how a tile of rows meets one token
/// (<see cref="Int8DenseLinear"/>, <see cref="Int6DenseLinear"/>).
/// </summary>
/// <remarks>
/// A batch runs <see cref="DotRowsTokens"/> on each chunk of rows: by default the one-token kernel per token over tiles of
/// <see cref="RowTile"/> rows, so each tile's weights are read from memory once for all tokens; every token's outputs
/// are bit for bit what <see cref="Apply"/> gives it alone.
/// </remarks>
internal abstract unsafe class QuantizedDenseLinear : ILinear
{
    /// <summary>Chunks per thread: as in <see cref="DenseLinear"/>.</summary>
    private const int ChunksPerThread = 8;

    /// <summary>Rows whose weights a batch reuses across its tokens: 16 rows of 2048 are at most 32 KiB plus scales, inside L1.</summary>
    private const int RowTile = 16;

    /// <summary>Alignment of the copies: every block load of the kernels stays inside whole cache lines.</summary>
    private const int Alignment = 64;

    private readonly WorkerPool _pool;
    private readonly List<Array> _stores = [];
    private readonly RowsWork _work;
    private int _grain;

    /// <param name="weight">The source matrix (F32, F16 or BF16, [rows, columns]).</param>
    protected QuantizedDenseLinear(TensorView weight, WorkerPool pool)
    {
        if (weight.Shape.Length != 2)
            throw new ArgumentException($"{weight.Name} has shape [{string.Join(", ", weight.Shape)}], not a matrix", nameof(weight));
        Name = weight.Name;
        _pool = pool;
        InputDim = weight.Columns;
        OutputDim = weight.Rows;
        _work = new RowsWork(this);
    }

    public int InputDim { get; }
    public int OutputDim { get; }

    /// <summary>The source tensor's name, for messages.</summary>
    protected string Name { get; }

    /// <summary>
    /// A pinned, 64-byte-aligned array of <paramref name="count"/> elements that lives as long as the matrix, or an error
    /// naming <paramref name="weight"/> and the way out when one array cannot hold it (<paramref name="copy"/>: "an int8 copy").
    /// </summary>
    protected T* Allocate<T>(long count, TensorView weight, string copy) where T : unmanaged
    {
        long elements = count + Alignment / sizeof(T);
        if (elements > Array.MaxLength)
            throw new ArgumentException(
                $"{weight}: {copy} of {count * sizeof(T):N0} bytes is larger than one array can hold; run it in its stored type (set TransformerOptions.ClassifierPrecision to Stored, or run with --float)",
                nameof(weight));
        var store = GC.AllocateUninitializedArray<T>((int)elements, pinned: true);
        _stores.Add(store);
        return (T*)(((nuint)Unsafe.AsPointer(ref store[0]) + Alignment - 1) & ~(nuint)(Alignment - 1));
    }

    /// <summary>Quantises every row of <paramref name="weight"/> into the copy on the pool's threads; the derived constructor calls it once its copy is allocated.</summary>
    protected void QuantizeRows(TensorView weight)
    {
        SplitRows();
        _pool.For(OutputDim, _grain, new QuantizeWork(this, weight, _pool), InputDim);
        PrepareInputs(1);
    }

    /// <summary>Readies a matrix whose rows are already stored in the derived type's form (read in place, nothing converted).</summary>
    protected void UseStoredRows()
    {
        SplitRows();
        PrepareInputs(1);
    }

    private void SplitRows()
    {
        int perThread = (OutputDim + _pool.ThreadCount * ChunksPerThread - 1) / (_pool.ThreadCount * ChunksPerThread);
        _grain = Math.Max(4, (perThread + 3) / 4 * 4);
    }

    /// <summary>Row <paramref name="r"/> of the source, widened to F32, into the copy.</summary>
    protected abstract void QuantizeRow(ReadOnlySpan<float> row, int r);

    /// <summary>Input buffers for <paramref name="n"/> tokens; they only grow, so steady-state calls allocate nothing.</summary>
    protected abstract void PrepareInputs(int n);

    /// <summary>Token <paramref name="t"/>'s input, quantised into its buffers.</summary>
    protected abstract void QuantizeInput(ReadOnlySpan<float> x, int t);

    /// <summary>y[i] for rows [r, r + y.Length) against token <paramref name="t"/>'s quantised input.</summary>
    protected abstract void DotRows(int r, int t, Span<float> y);

    /// <summary>
    /// Rows [r, r + count) against the first <paramref name="n"/> tokens, token t's outputs at y + t·OutputDim + r, each
    /// bit for bit its <see cref="DotRows(int, int, Span{float})"/>: by default that call per tile of <see cref="RowTile"/>
    /// rows and token, so a tile's weights are read from memory once; a derived type with a kernel that unpacks each row
    /// once for all tokens overrides it.
    /// </summary>
    protected virtual void DotRowsTokens(int r, int count, int n, float* y)
    {
        for (int first = r; first < r + count; first += RowTile)
        {
            int rows = Math.Min(RowTile, r + count - first);
            for (int t = 0; t < n; t++) DotRows(first, t, new Span<float>(y + (long)t * OutputDim + first, rows));
        }
    }

    public void Apply(ReadOnlySpan<float> x, Span<float> y) => ApplyBatch(x, y, 1);

    public void ApplyBatch(ReadOnlySpan<float> x, Span<float> y, int n)
    {
        if (n < 1 || x.Length != (long)n * InputDim || y.Length != (long)n * OutputDim)
            throw new ArgumentException($"{Name}: expected x of {n}×{InputDim} and y of {n}×{OutputDim}, got {x.Length} and {y.Length}");
        PrepareInputs(n);
        for (int t = 0; t < n; t++) QuantizeInput(x.Slice(t * InputDim, InputDim), t);
        fixed (float* py = y)
        {
            _work.Arm(py, n);
            _pool.For(OutputDim, _grain, _work, (long)InputDim * n);
        }
    }

    /// <summary>A batch already gives every token what <see cref="Apply"/> gives it alone (see the remarks).</summary>
    public void ApplyDecodeSteps(ReadOnlySpan<float> x, Span<float> y, int n) => ApplyBatch(x, y, n);

    /// <summary>Rows [start, end) of the source matrix widened to F32 (one row at a time) and quantised.</summary>
    private sealed class QuantizeWork(QuantizedDenseLinear matrix, TensorView weight, WorkerPool pool) : IParallelWork
    {
        public void Execute(int start, int end, int worker)
        {
            var row = pool.Scratch(worker, matrix.InputDim);
            for (int r = start; r < end; r++)
            {
                weight.ReadRow(r, row);
                matrix.QuantizeRow(row, r);
            }
        }
    }

    /// <summary>Rows [start, end) against the armed tokens, each token's outputs written into its row of y.</summary>
    private sealed class RowsWork(QuantizedDenseLinear matrix) : IParallelWork
    {
        private float* _y;
        private int _n;

        public void Arm(float* y, int n)
        {
            _y = y;
            _n = n;
        }

        public void Execute(int start, int end, int worker)
        {
            if (_n == 1) matrix.DotRows(start, 0, new Span<float>(_y + start, end - start));
            else matrix.DotRowsTokens(start, end - start, _n, _y);
        }
    }
}
