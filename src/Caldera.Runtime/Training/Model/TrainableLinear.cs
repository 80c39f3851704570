using Caldera.Runtime.Compression;
using Caldera.Runtime.Incoherence;
using Caldera.Runtime.Training.Arithmetic;

namespace Caldera.Runtime.Training.Model;

/// <summary>
/// A block matrix with its top ranks trainable:
///   u = U_nᵀ(SU ⊙ x),   z = Q·u + L_f·(R_f·u) + L_t·(R_t·u),   y = g·SV ⊙ (V_m·z)
///   Q: m×n frozen codes; L_f, R_f: the frozen ranks r..k−1, still coded; L_t (m×r), R_t (r×n): the top r ranks,
///   peeled into float copies of their exact dequantized values (L_t is held as L_tᵀ, r×m, like the codes).
/// Backward, for dy (T×m):
///   dz = g·V_mᵀ(SV ⊙ dy),   du = Qᵀ·dz + R_fᵀ·(L_fᵀ·dz) + R_tᵀ·(L_tᵀ·dz),   dx = SU ⊙ (U_n·du)
///   dL_tᵀ += Σ_t (R_t·u_t) ⊗ dz_t,   dR_t += Σ_t (L_tᵀ·dz_t) ⊗ u_t.
/// A matrix the model keeps dense is the same with Q = W, g = 1, no transforms and no ranks.
/// Under quantisation-aware training the passes multiply by the ranks as the merge stores them, L̂_t = round(L_t) and
/// R̂_t = round(R_t) (<see cref="FactorRounding"/>), and the gradients with respect to L̂_t and R̂_t update L_t and R_t
/// (straight through).
/// </summary>
internal sealed class TrainableLinear
{
    private readonly float _scale;
    private readonly RandomizedHadamard? _input, _output;
    private readonly RowMatrix _q;
    private readonly RowMatrix? _frozenR, _frozenLTransposed;
    private readonly FactorRounding? _lTransposedRounding, _rRounding;

    private TrainableLinear(string name, int rows, int columns, float scale, RandomizedHadamard? input, RandomizedHadamard? output,
        RowMatrix q, RowMatrix? frozenR, RowMatrix? frozenLTransposed, float[]? lTransposed, float[]? r, int trainedRank,
        FactorRounding? lTransposedRounding = null, FactorRounding? rRounding = null)
    {
        Name = name;
        Rows = rows;
        Columns = columns;
        _scale = scale;
        _input = input;
        _output = output;
        _q = q;
        _frozenR = frozenR;
        _frozenLTransposed = frozenLTransposed;
        TrainedRank = trainedRank;
        if (trainedRank > 0)
        {
            LTransposed = new FloatRows(lTransposed!, trainedRank, rows);
            R = new FloatRows(r!, trainedRank, columns);
            LTransposedGradient = new float[lTransposed!.Length];
            RGradient = new float[r!.Length];
            (_lTransposedRounding, _rRounding) = (lTransposedRounding, rRounding);
            Rounded = lTransposedRounding != null;
            ForwardLTransposed = Rounded ? new FloatRows(new float[lTransposed.Length], trainedRank, rows) : LTransposed;
            ForwardR = Rounded ? new FloatRows(new float[r.Length], trainedRank, columns) : R;
            RoundTrained();
        }
    }

    /// <summary>The canonical tensor name, e.g. "blk.0.attn_q.weight".</summary>
    public string Name { get; }
    public int Rows { get; }
    public int Columns { get; }

    /// <summary>r, the ranks that train (0 for a dense matrix or a matrix without factors).</summary>
    public int TrainedRank { get; }

    /// <summary>L_tᵀ (r×m) and R_t (r×n), updated in place by the optimizer; null when nothing trains.</summary>
    public FloatRows? LTransposed { get; }
    public FloatRows? R { get; }

    /// <summary>Whether the passes run on the rounded ranks (quantisation-aware training).</summary>
    public bool Rounded { get; }

    /// <summary>The ranks the passes multiply by: <see cref="LTransposed"/> and <see cref="R"/>, or their rounding.</summary>
    public FloatRows? ForwardLTransposed { get; }
    public FloatRows? ForwardR { get; }

    /// <summary>Accumulated gradients of the loss with respect to L_tᵀ and R_t.</summary>
    public float[] LTransposedGradient { get; } = [];
    public float[] RGradient { get; } = [];

    /// <summary>
    /// Σ_t ‖dy_t‖² over every token <see cref="Backward"/> has seen since the last <see cref="ClearGradients"/>: the trace
    /// of the output gradient's second moment, what a bits budget weighs this matrix's output error by.
    /// </summary>
    public double OutputGradientSquares { get; private set; }

    /// <summary>The ranks a workspace must hold for this matrix.</summary>
    public int WorkspaceRank => Math.Max(TrainedRank, _frozenR?.Rows ?? 0);

    /// <summary>
    /// Peels the top <paramref name="rank"/> ranks of <paramref name="data"/> (all of them when it has fewer) into float
    /// copies; Q and the other ranks stay coded. With <paramref name="nearest"/> the passes run on the ranks rounded as
    /// the merge stores them (quantisation-aware training).
    /// </summary>
    public static TrainableLinear Peel(CompressedLinearData data, int rank, E8PNearestRow? nearest = null)
    {
        int m = data.Rows, n = data.Columns, k = data.Rank, r = Math.Min(rank, k), frozen = k - r;
        RowMatrix q = data.QKind == QCodeKind.E8P
            ? new E8PRows(data.QCodes, data.QWordsPerRow, m, n, data.QScale)
            : new UniformRows(data.QCodes, data.MaxUniformCode / 2, m, n, data.QScale);
        RowMatrix? lTransposedAll = null, rAll = null;
        if (k > 0 && data.FactorBits == 4)
        {
            lTransposedAll = new ResidualRows(data.LTransposedCodes, 0, k, m, data.LTransposedScale);
            rAll = new ResidualRows(data.RCodes, 0, k, n, data.RScale);
        }
        else if (k > 0)
        {
            var l = data.L.Span;
            var lt = new float[k * m];
            for (int i = 0; i < m; i++)
                for (int j = 0; j < k; j++) lt[j * m + i] = (float)l[i * k + j];
            lTransposedAll = new FloatRows(lt, k, m);
            var rf = new float[k * n];
            System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(data.R.Span, rf);
            rAll = new FloatRows(rf, k, n);
        }
        float[]? trainedLt = null, trainedR = null;
        if (r > 0)
        {
            trainedLt = Dequantize(lTransposedAll!, 0, r);
            trainedR = Dequantize(rAll!, 0, r);
        }
        RowMatrix? frozenLt = null, frozenR = null;
        if (frozen > 0)
        {
            if (data.FactorBits == 4)
            {
                frozenLt = new ResidualRows(data.LTransposedCodes, r, frozen, m, data.LTransposedScale);
                frozenR = new ResidualRows(data.RCodes, r, frozen, n, data.RScale);
            }
            else
            {
                frozenLt = new FloatRows(Dequantize(lTransposedAll!, r, frozen), frozen, m);
                frozenR = new FloatRows(Dequantize(rAll!, r, frozen), frozen, n);
            }
        }
        return new TrainableLinear(data.Name, m, n, data.GlobalScale, data.InputTransform?.ToRandomizedHadamard(),
            data.OutputTransform?.ToRandomizedHadamard(), q, frozenR, frozenLt, trainedLt, trainedR, r,
            nearest is null || r == 0 ? null : FactorRounding.For(data, lTransposed: true, r, nearest),
            nearest is null || r == 0 ? null : FactorRounding.For(data, lTransposed: false, r, nearest));
    }

    /// <summary>A matrix kept dense (row-major m×n): frozen, nothing to peel.</summary>
    public static TrainableLinear Dense(string name, float[] values, int rows, int columns) =>
        new(name, rows, columns, 1f, null, null, new FloatRows(values, rows, columns), null, null, null, null, 0);

    /// <summary>A dense matrix read as <paramref name="values"/> hands out its rows (a checkpoint's, in place): frozen, nothing to peel.</summary>
    public static TrainableLinear Dense(string name, RowMatrix values) =>
        new(name, values.Rows, values.Columns, 1f, null, null, values, null, null, null, null, 0);

    /// <summary>
    /// A dense frozen W with trainable factors beside it, y = W·x + L_t·(R_t·x) (LoRA): the form in which a full-precision
    /// checkpoint's backward is checked against an independent implementation.
    /// </summary>
    public static TrainableLinear DenseWithFactors(string name, float[] values, int rows, int columns, float[] lTransposed, float[] r, int rank) =>
        new(name, rows, columns, 1f, null, null, new FloatRows(values, rows, columns), null, null, lTransposed, r, rank);

    /// <summary>Rows [first, first + count) of <paramref name="matrix"/> as exact floats.</summary>
    private static float[] Dequantize(RowMatrix matrix, int first, int count)
    {
        int n = matrix.Columns;
        var values = new float[count * n];
        var scratch = new float[n];
        for (int i = 0; i < count; i++) matrix.Row(first + i, scratch).CopyTo(values.AsSpan(i * n, n));
        return values;
    }

    /// <summary>y = W·x for T tokens   x: T × n; y: T × m.</summary>
    public void Forward(RowProducts products, float[] x, float[] y, int tokens, LinearWorkspace work)
    {
        var pool = products.Pool;
        int m = Rows, n = Columns;
        Input(products, x, work.U, tokens);
        products.Multiply(_q, work.U, y, tokens);
        if (_frozenR != null)
        {
            products.Multiply(_frozenR, work.U, work.S, tokens);
            products.MultiplyTransposed(_frozenLTransposed!, work.S, y, tokens);
        }
        if (TrainedRank > 0)
        {
            products.Multiply(ForwardR!, work.U, work.S, tokens);
            products.MultiplyTransposed(ForwardLTransposed!, work.S, y, tokens);
        }
        ParallelLoop.For(pool, tokens, 8L * m, (t, _) =>
        {
            var yt = y.AsSpan(t * m, m);
            _output?.Inverse(yt, yt);
            for (int i = 0; i < m; i++) yt[i] *= _scale;
        });
    }

    /// <summary>
    /// dx = Wᵀ·dy (or dx += when <paramref name="accumulate"/>) for the tokens <paramref name="x"/> ran on, and adds this
    /// window's gradients of L_tᵀ and R_t   x, dx: T × n; dy: T × m.
    /// </summary>
    public void Backward(RowProducts products, float[] x, float[] dy, float[] dx, int tokens, LinearWorkspace work, bool accumulate)
    {
        var pool = products.Pool;
        int m = Rows, n = Columns;
        float[] dz = work.Dz, du = work.Du;
        ParallelLoop.For(pool, tokens, 8L * m, (t, _) =>
        {
            var dzt = dz.AsSpan(t * m, m);
            if (_output is { } output) output.Forward(dy.AsSpan(t * m, m), dzt);
            else dy.AsSpan(t * m, m).CopyTo(dzt);
            for (int i = 0; i < m; i++) dzt[i] *= _scale;
        });
        OutputGradientSquares += System.Numerics.Tensors.TensorPrimitives.SumOfSquares<float>(dy.AsSpan(0, tokens * m));
        Array.Clear(du, 0, tokens * n);
        products.MultiplyTransposed(_q, dz, du, tokens);
        if (_frozenR != null)
        {
            products.Multiply(_frozenLTransposed!, dz, work.W, tokens);
            products.MultiplyTransposed(_frozenR, work.W, du, tokens);
        }
        if (TrainedRank > 0)
        {
            int r = TrainedRank;
            Input(products, x, work.U, tokens);
            products.Multiply(ForwardR!, work.U, work.S, tokens);
            products.Multiply(ForwardLTransposed!, dz, work.W, tokens);
            products.AddOuter(LTransposedGradient, r, m, work.S, dz, tokens);
            products.AddOuter(RGradient, r, n, work.W, work.U, tokens);
            products.MultiplyTransposed(ForwardR!, work.W, du, tokens);
        }
        ParallelLoop.For(pool, tokens, 8L * n, (t, _) =>
        {
            var dut = du.AsSpan(t * n, n);
            _input?.Inverse(dut, dut);
            var dxt = dx.AsSpan(t * n, n);
            if (accumulate)
                for (int j = 0; j < n; j++) dxt[j] += dut[j];
            else dut.CopyTo(dxt);
        });
    }

    // u = U_nᵀ(SU ⊙ x) per token
    private void Input(RowProducts products, float[] x, float[] u, int tokens)
    {
        int n = Columns;
        ParallelLoop.For(products.Pool, tokens, 8L * n, (t, _) =>
        {
            if (_input is { } input) input.Forward(x.AsSpan(t * n, n), u.AsSpan(t * n, n));
            else x.AsSpan(t * n, n).CopyTo(u.AsSpan(t * n, n));
        });
    }

    /// <summary>Brings the rounded ranks up to date with the trained ones (after an optimizer step, or a restore).</summary>
    public void RoundTrained()
    {
        if (!Rounded) return;
        _lTransposedRounding!.Round(LTransposed!.Values, ForwardLTransposed!.Values);
        _rRounding!.Round(R!.Values, ForwardR!.Values);
    }

    /// <summary>Zeroes the accumulated gradients and <see cref="OutputGradientSquares"/> (after an optimizer step).</summary>
    public void ClearGradients()
    {
        Array.Clear(LTransposedGradient);
        Array.Clear(RGradient);
        OutputGradientSquares = 0;
    }

    /// <summary>The parts the float64 reference rebuilds this matrix from.</summary>
    internal (float Scale, RandomizedHadamard? Input, RandomizedHadamard? Output, RowMatrix Q, RowMatrix? FrozenR, RowMatrix? FrozenLTransposed) Parts =>
        (_scale, _input, _output, _q, _frozenR, _frozenLTransposed);
}
