using System.Numerics;
using Caldera.Runtime.Incoherence;
using Caldera.Runtime.Training.Arithmetic;
using Caldera.Runtime.Training.Model;

namespace Caldera.Runtime.Training.Reference;

/// <summary>
/// A <see cref="TrainableLinear"/> in float64 with every operator an explicit matrix, for the reference backward:
///   y = M_out·(Q·u + L_f·(R_f·u) + L_t·(R_t·u)),  u = M_in·x
///   M_in = U_nᵀ·diag(SU) and M_out = g·diag(SV)·V_m, with U = A ⊗ H_P/√P written out entry by entry (Sylvester
///   H_P[b,e] = (−1)^popcount(b&amp;e)), not through the fast transform the fp32 path runs.
/// L_t is held as L_tᵀ (r×m), the layout of the fp32 path, so gradients compare element for element.
/// </summary>
internal sealed class ReferenceLinear
{
    private readonly int _m, _n, _frozen;
    private readonly double[]? _in, _out;
    private readonly double[] _q, _lf, _rf;

    public ReferenceLinear(TrainableLinear linear)
    {
        var (scale, input, output, q, frozenR, frozenLt) = linear.Parts;
        _m = linear.Rows;
        _n = linear.Columns;
        Rank = linear.TrainedRank;
        _q = Widen(q);
        _frozen = frozenR?.Rows ?? 0;
        _rf = frozenR is null ? [] : Widen(frozenR);
        _lf = frozenLt is null ? [] : Widen(frozenLt);
        if (input != null)
        {
            // M_in[i, j] = U[j, i]·SU[j]
            var u = Explicit(input.Transform);
            _in = new double[_n * _n];
            for (int i = 0; i < _n; i++)
                for (int j = 0; j < _n; j++) _in[i * _n + j] = u[j * _n + i] * input.Signs[j];
        }
        if (output != null || scale != 1f)
        {
            var v = output is null ? Identity(_m) : Explicit(output.Transform);
            _out = new double[_m * _m];
            for (int i = 0; i < _m; i++)
                for (int j = 0; j < _m; j++) _out[i * _m + j] = (double)scale * (output is null ? 1 : output.Signs[i]) * v[i * _m + j];
        }
        LTransposed = linear.LTransposed is { } lt ? Array.ConvertAll(lt.Values, f => (double)f) : [];
        R = linear.R is { } r ? Array.ConvertAll(r.Values, f => (double)f) : [];
        LTransposedGradient = new double[LTransposed.Length];
        RGradient = new double[R.Length];
    }

    public int Rank { get; }

    /// <summary>L_tᵀ (r×m) and R_t (r×n), the parameters; tests perturb them in place.</summary>
    public double[] LTransposed { get; }
    public double[] R { get; }
    public double[] LTransposedGradient { get; }
    public double[] RGradient { get; }

    /// <summary>Σ ‖dy‖² over every <see cref="Backward"/> call.</summary>
    public double OutputGradientSquares { get; private set; }

    public double[] Forward(double[] x)
    {
        var u = _in is null ? x : MatVec(_in, x, _n, _n);
        var z = MatVec(_q, u, _m, _n);
        if (_frozen > 0) AddLowRank(_lf, _rf, _frozen, u, z);
        if (Rank > 0) AddLowRank(LTransposed, R, Rank, u, z);
        return _out is null ? z : MatVec(_out, z, _m, _m);
    }

    /// <summary>dx for input x and output gradient dy; adds the gradients of L_tᵀ and R_t.</summary>
    public double[] Backward(double[] x, double[] dy)
    {
        foreach (double g in dy) OutputGradientSquares += g * g;
        var u = _in is null ? x : MatVec(_in, x, _n, _n);
        var dz = _out is null ? dy : TransposedMatVec(_out, dy, _m, _m);
        var du = TransposedMatVec(_q, dz, _m, _n);
        if (_frozen > 0)
        {
            var w = MatVec(_lf, dz, _frozen, _m);
            AddTransposed(_rf, w, _frozen, _n, du);
        }
        if (Rank > 0)
        {
            var s = MatVec(R, u, Rank, _n);
            var w = MatVec(LTransposed, dz, Rank, _m);
            for (int j = 0; j < Rank; j++)
            {
                for (int i = 0; i < _m; i++) LTransposedGradient[j * _m + i] += s[j] * dz[i];
                for (int e = 0; e < _n; e++) RGradient[j * _n + e] += w[j] * u[e];
            }
            AddTransposed(R, w, Rank, _n, du);
        }
        return _in is null ? du : TransposedMatVec(_in, du, _n, _n);
    }

    // z += Lᵀᵀ·(R·u)   Lᵀ: k×m; R: k×n
    private void AddLowRank(double[] lTransposed, double[] r, int k, double[] u, double[] z)
    {
        var s = MatVec(r, u, k, _n);
        for (int j = 0; j < k; j++)
            for (int i = 0; i < _m; i++) z[i] += lTransposed[j * _m + i] * s[j];
    }

    private static void AddTransposed(double[] a, double[] y, int rows, int columns, double[] x)
    {
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < columns; j++) x[j] += a[i * columns + j] * y[i];
    }

    public static double[] MatVec(double[] a, double[] x, int rows, int columns)
    {
        var y = new double[rows];
        for (int i = 0; i < rows; i++)
        {
            double sum = 0;
            for (int j = 0; j < columns; j++) sum += a[i * columns + j] * x[j];
            y[i] = sum;
        }
        return y;
    }

    public static double[] TransposedMatVec(double[] a, double[] y, int rows, int columns)
    {
        var x = new double[columns];
        AddTransposed(a, y, rows, columns, x);
        return x;
    }

    private static double[] Widen(RowMatrix matrix)
    {
        int m = matrix.Rows, n = matrix.Columns;
        var values = new double[m * n];
        var scratch = new float[n];
        for (int i = 0; i < m; i++)
        {
            var row = matrix.Row(i, scratch);
            for (int j = 0; j < n; j++) values[i * n + j] = row[j];
        }
        return values;
    }

    /// <summary>U = A ⊗ H_P/√P, row-major n×n, index i = a·P + b.</summary>
    private static double[] Explicit(HadamardTransform t)
    {
        int n = t.Length, k = t.BlockOrder, p = t.WalshLength;
        var block = t.Block;
        var u = new double[n * n];
        double norm = 1 / Math.Sqrt(p);
        for (int a = 0; a < k; a++)
            for (int b = 0; b < p; b++)
                for (int c = 0; c < k; c++)
                    for (int e = 0; e < p; e++)
                        u[(a * p + b) * n + c * p + e] = block[a * k + c] * norm * (BitOperations.PopCount((uint)(b & e)) % 2 == 0 ? 1 : -1);
        return u;
    }

    private static double[] Identity(int m)
    {
        var a = new double[m * m];
        for (int i = 0; i < m; i++) a[i * m + i] = 1;
        return a;
    }
}
