using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Inference;

/// <summary>
/// A full-precision weight matrix read in place from its <see cref="TensorView"/> (F32, F16 or BF16),
/// with its output rows split across a <see cref="WorkerPool"/>.
/// </summary>
internal sealed unsafe class DenseLinear : ILinear
{
    /// <summary>Chunks per thread: enough for dynamic balancing when another process steals a core, few enough that handing them out costs nothing.</summary>
    private const int ChunksPerThread = 8;

    private readonly TensorView _weight;
    private readonly WorkerPool _pool;
    private readonly int _grain;
    private readonly RowsWork _work;

    public DenseLinear(TensorView weight, WorkerPool pool)
    {
        if (weight.Shape.Length != 2)
            throw new ArgumentException($"{weight.Name} has shape [{string.Join(", ", weight.Shape)}], not a matrix", nameof(weight));
        _weight = weight;
        _pool = pool;
        int perThread = (weight.Rows + pool.ThreadCount * ChunksPerThread - 1) / (pool.ThreadCount * ChunksPerThread);
        _grain = Math.Max(4, (perThread + 3) / 4 * 4);
        _work = new RowsWork(weight, pool);
    }

    public int InputDim => _weight.Columns;
    public int OutputDim => _weight.Rows;
    public TensorView Weight => _weight;

    public void Apply(ReadOnlySpan<float> x, Span<float> y) => ApplyBatch(x, y, 1);

    public void ApplyBatch(ReadOnlySpan<float> x, Span<float> y, int n)
    {
        if (n < 1 || x.Length != (long)n * InputDim || y.Length != (long)n * OutputDim)
            throw new ArgumentException($"{_weight.Name}: expected x of {n}×{InputDim} and y of {n}×{OutputDim}, got {x.Length} and {y.Length}");
        fixed (float* px = x, py = y)
        {
            _work.Arm(px, py, n);
            _pool.For(OutputDim, _grain, _work, (long)InputDim * n);
        }
    }

    /// <summary>Rows [start, end) of W against the armed x, written into the matching columns of y.</summary>
    private sealed class RowsWork(TensorView weight, WorkerPool pool) : IParallelWork
    {
        private readonly int _columns = weight.Columns;
        private readonly int _rows = weight.Rows;
        private readonly long _rowBytes = (long)weight.Columns * weight.Type.ElementSize();
        private float* _x, _y;
        private int _n;

        public void Arm(float* x, float* y, int n)
        {
            _x = x;
            _y = y;
            _n = n;
        }

        public void Execute(int start, int end, int worker)
        {
            var rows = new ReadOnlySpan<byte>(weight.Data + start * _rowBytes, checked((int)((end - start) * _rowBytes)));
            if (_n == 1)
            {
                MatVec.Multiply(rows, weight.Type, new ReadOnlySpan<float>(_x, _columns), new Span<float>(_y + start, end - start));
                return;
            }
            var y = new Span<float>(_y + start, (_n - 1) * _rows + (end - start));
            MatMul.Multiply(rows, weight.Type, end - start, new ReadOnlySpan<float>(_x, _n * _columns), _n, y, _rows,
                pool.Scratch(worker, MatMul.ScratchLength(_columns)));
        }
    }
}
