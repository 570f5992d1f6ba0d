using System.Numerics;
using System.Numerics.Tensors;

namespace Functional.AD;

/// <summary>
/// numpy-style operations on <see cref="Tensor"/>s, the vocabulary of user functions (<c>using static Functional.AD.Np;</c>).
/// Every method computes eagerly, so any expression over them also runs through plain
/// <c>Expression.Compile()</c>. Binary operations broadcast as numpy does and promote dtypes as JAX does
/// (<see cref="DTypes.Promote"/>). Axes may be negative (counted from the end).
/// </summary>
/// <example><code>
/// using static Functional.AD.Np;
/// var x = new Tensor(new float[,] { { 1, 2 }, { 3, 4 } });
/// var y = Sum(Tanh(x) * 2 + Ones([2]), axis: 0);    // broadcasting, float32 kept
/// Expression&lt;Func&lt;Tensor, Tensor&gt;&gt; f = v =&gt; Mean(Square(v));   // the same operations, differentiable
/// </code></example>
public static partial class Np
{
    // ---------------------------------------------------------------- creation

    /// <summary>A tensor of zeros. Example: <c>Zeros([2, 3])</c> is a float32 2x3 of 0.</summary>
    /// <param name="shape">The dimensions.</param>
    /// <param name="dtype">The dtype.</param>
    /// <returns>The tensor.</returns>
    public static Tensor Zeros(int[] shape, DType dtype = DType.Float32) => Full(shape, 0.0, dtype);

    /// <summary>A tensor of ones. Example: <c>Ones([3])</c> is <c>[1., 1., 1.]</c>.</summary>
    /// <param name="shape">The dimensions.</param>
    /// <param name="dtype">The dtype.</param>
    /// <returns>The tensor.</returns>
    public static Tensor Ones(int[] shape, DType dtype = DType.Float32) => Full(shape, 1.0, dtype);

    /// <summary>A tensor with every element equal to <paramref name="value"/>. Example: <c>Full([2], 7)</c> is <c>[7., 7.]</c>.</summary>
    /// <param name="shape">The dimensions.</param>
    /// <param name="value">The fill value.</param>
    /// <param name="dtype">The dtype.</param>
    /// <returns>The tensor.</returns>
    public static Tensor Full(int[] shape, double value, DType dtype = DType.Float32) => Eager.Fill(CheckShape(shape, "Np.Full"), value, dtype);

    /// <summary>The vector <c>[0, 1, ..., n-1]</c>. Example: <c>Arange(3)</c> is <c>[0., 1., 2.]</c>.</summary>
    /// <param name="n">The number of elements (non-negative).</param>
    /// <param name="dtype">The dtype.</param>
    /// <returns>The vector.</returns>
    public static Tensor Arange(int n, DType dtype = DType.Float32) => Arange(0, n, 1, dtype);

    /// <summary>
    /// The vector <c>start + i*step</c> for <c>i = 0 .. ceil((stop-start)/step) - 1</c> (numpy's <c>arange</c>:
    /// <paramref name="stop"/> is excluded). Example: <c>Arange(1, 2, 0.25)</c> is <c>[1., 1.25, 1.5, 1.75]</c>.
    /// </summary>
    /// <param name="start">The first value.</param>
    /// <param name="stop">The bound, excluded.</param>
    /// <param name="step">The increment, non-zero.</param>
    /// <param name="dtype">The dtype.</param>
    /// <returns>The vector.</returns>
    public static Tensor Arange(double start, double stop, double step = 1, DType dtype = DType.Float32)
    {
        if (step == 0 || double.IsNaN(step)) throw new ArgumentException($"Np.Arange(start: {start}, stop: {stop}, step: {step}): step must be non-zero", nameof(step));
        double count = Math.Ceiling((stop - start) / step);
        if (!(count <= int.MaxValue)) throw new ArgumentException($"Np.Arange(start: {start}, stop: {stop}, step: {step}): too many elements", nameof(stop));
        int n = (int)Math.Max(0, count);
        if (dtype == DType.Float64)
        {
            var d = new double[n];
            for (int i = 0; i < n; i++) d[i] = start + i * step;
            return Tensor.Adopt(d, [n]);
        }
        var f = new float[n];
        for (int i = 0; i < n; i++) f[i] = (float)(start + i * step);
        return Tensor.Adopt(f, [n]);
    }

    /// <summary>Zeros with <paramref name="x"/>'s shape and dtype (and weak flag).</summary>
    /// <param name="x">The template.</param>
    /// <returns>The tensor.</returns>
    public static Tensor ZerosLike(Tensor x) => x is null ? throw new ArgumentNullException(nameof(x)) : Eager.Fill(x.Dims, 0, x.DType, x.IsWeak);

    /// <summary>Ones with <paramref name="x"/>'s shape and dtype (and weak flag).</summary>
    /// <param name="x">The template.</param>
    /// <returns>The tensor.</returns>
    public static Tensor OnesLike(Tensor x) => x is null ? throw new ArgumentNullException(nameof(x)) : Eager.Fill(x.Dims, 1, x.DType, x.IsWeak);

    // ---------------------------------------------------------------- elementwise

    /// <summary><c>a + b</c> elementwise, broadcasting. Example: <c>Add([1, 2], 10)</c> is <c>[11., 12.]</c>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The sum, in the promoted dtype.</returns>
    public static Tensor Add(Tensor a, Tensor b) => Binary<AddOp>("Add", a, b);

    /// <summary><c>a - b</c> elementwise, broadcasting. Example: <c>Sub([[1], [2]], [1, 2])</c> is <c>[[0., -1.], [1., 0.]]</c>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The difference.</returns>
    public static Tensor Sub(Tensor a, Tensor b) => Binary<SubOp>("Sub", a, b);

    /// <summary><c>a * b</c> elementwise, broadcasting. Example: <c>Mul([1, 2], [3, 4])</c> is <c>[3., 8.]</c>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The product.</returns>
    public static Tensor Mul(Tensor a, Tensor b) => Binary<MulOp>("Mul", a, b);

    /// <summary><c>a / b</c> elementwise, broadcasting (IEEE: <c>1/0 = inf</c>). Example: <c>Div([1, 2], 4)</c> is <c>[0.25, 0.5]</c>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The quotient.</returns>
    public static Tensor Div(Tensor a, Tensor b) => Binary<DivOp>("Div", a, b);

    /// <summary><c>-x</c> elementwise. Example: <c>Neg([1, -2])</c> is <c>[-1., 2.]</c>.</summary>
    /// <param name="x">The operand.</param><returns>The negation.</returns>
    public static Tensor Neg(Tensor x) => Unary<NegOp>(x);

    /// <summary><c>e^x</c> elementwise. Example: <c>Exp(0)</c> is <c>1</c>.</summary>
    /// <param name="x">The operand.</param><returns>The exponential.</returns>
    public static Tensor Exp(Tensor x) => FloatUnary<ExpOp>(x);

    /// <summary>Natural logarithm <c>ln x</c> elementwise (<c>ln 0 = -inf</c>, negative gives NaN). Example: <c>Log(1)</c> is <c>0</c>.</summary>
    /// <param name="x">The operand.</param><returns>The logarithm.</returns>
    public static Tensor Log(Tensor x) => FloatUnary<LogOp>(x);

    /// <summary><c>tanh x = (e^x - e^-x) / (e^x + e^-x)</c> elementwise. Example: <c>Tanh(0)</c> is <c>0</c>.</summary>
    /// <param name="x">The operand.</param><returns>The hyperbolic tangent.</returns>
    public static Tensor Tanh(Tensor x) => FloatUnary<TanhOp>(x);

    /// <summary>The logistic function <c>1 / (1 + e^-x)</c> elementwise. Example: <c>Sigmoid(0)</c> is <c>0.5</c>.</summary>
    /// <param name="x">The operand.</param><returns>The sigmoid.</returns>
    public static Tensor Sigmoid(Tensor x) => FloatUnary<SigmoidOp>(x);

    /// <summary>
    /// <c>softplus x = ln(1 + e^x)</c>, computed stably as <c>max(x, 0) + log1p(e^-|x|)</c>.
    /// Example: <c>Softplus(0)</c> is <c>ln 2 ≈ 0.6931</c>; <c>Softplus(1000)</c> is <c>1000</c>.
    /// </summary>
    /// <param name="x">The operand.</param><returns>The softplus.</returns>
    public static Tensor Softplus(Tensor x) => FloatUnary<SoftplusOp>(x);

    /// <summary><c>max(x, 0)</c> elementwise (NaN stays NaN). Example: <c>Relu([-1, 2])</c> is <c>[0., 2.]</c>.</summary>
    /// <param name="x">The operand.</param><returns>The rectified values.</returns>
    public static Tensor Relu(Tensor x) => Unary<ReluOp>(x);

    /// <summary><c>sin x</c> elementwise (radians). Example: <c>Sin(0)</c> is <c>0</c>.</summary>
    /// <param name="x">The operand.</param><returns>The sine.</returns>
    public static Tensor Sin(Tensor x) => FloatUnary<SinOp>(x);

    /// <summary><c>cos x</c> elementwise (radians). Example: <c>Cos(0)</c> is <c>1</c>.</summary>
    /// <param name="x">The operand.</param><returns>The cosine.</returns>
    public static Tensor Cos(Tensor x) => FloatUnary<CosOp>(x);

    /// <summary><c>√x</c> elementwise (negative gives NaN). Example: <c>Sqrt([4, 9])</c> is <c>[2., 3.]</c>.</summary>
    /// <param name="x">The operand.</param><returns>The square root.</returns>
    public static Tensor Sqrt(Tensor x) => FloatUnary<SqrtOp>(x);

    /// <summary><c>|x|</c> elementwise. Example: <c>Abs([-1.5, 2])</c> is <c>[1.5, 2.]</c>.</summary>
    /// <param name="x">The operand.</param><returns>The absolute value.</returns>
    public static Tensor Abs(Tensor x) => Unary<AbsOp>(x);

    /// <summary><c>sign x</c>: -1, 0 or 1 elementwise (NaN stays NaN, <c>-0</c> gives <c>-0</c>). Example: <c>Sign([-3, 0, 2])</c> is <c>[-1., 0., 1.]</c>.</summary>
    /// <param name="x">The operand.</param><returns>The signs.</returns>
    public static Tensor Sign(Tensor x) => Unary<SignOp>(x);

    /// <summary><c>a^b</c> elementwise, broadcasting (IEEE <c>pow</c>). Example: <c>Pow([2, 3], 2)</c> is <c>[4., 9.]</c>.</summary>
    /// <param name="a">The base.</param><param name="b">The exponent.</param><returns>The power.</returns>
    public static Tensor Pow(Tensor a, Tensor b) => Binary<PowOp>("Pow", a, b);

    /// <summary><c>max(a, b)</c> elementwise, broadcasting; NaN propagates (numpy's <c>maximum</c>). Example: <c>Maximum([1, 5], 3)</c> is <c>[3., 5.]</c>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The larger of each pair.</returns>
    public static Tensor Maximum(Tensor a, Tensor b) => Binary<MaxOp>("Maximum", a, b);

    /// <summary><c>min(a, b)</c> elementwise, broadcasting; NaN propagates (numpy's <c>minimum</c>). Example: <c>Minimum([1, 5], 3)</c> is <c>[1., 3.]</c>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The smaller of each pair.</returns>
    public static Tensor Minimum(Tensor a, Tensor b) => Binary<MinOp>("Minimum", a, b);

    /// <summary><c>ln(1 + x)</c> elementwise, accurate near 0 (<c>Log1p(1e-8f)</c> is <c>1e-8f</c>, where <c>Log(1 + x)</c> gives 0).
    /// Example: <c>Log1p(0)</c> is <c>0</c>.</summary>
    /// <param name="x">The operand (at least -1).</param><returns>The logarithm of one plus x.</returns>
    public static Tensor Log1p(Tensor x) => Eager.Map(Prims.Log1p, x);

    /// <summary><c>e^x - 1</c> elementwise, accurate near 0 (<c>Expm1(1e-8f)</c> is <c>1e-8f</c>, where <c>Exp(x) - 1</c> gives 0).
    /// Example: <c>Expm1(0)</c> is <c>0</c>.</summary>
    /// <param name="x">The operand.</param><returns>The exponential minus one.</returns>
    public static Tensor Expm1(Tensor x) => Eager.Map(Prims.Expm1, x);

    /// <summary>The error function <c>erf x = 2/√π ∫₀ˣ e^(-t²) dt</c> elementwise. Example: <c>Erf(0)</c> is <c>0</c>; <c>Erf(1) ≈ 0.8427</c>.</summary>
    /// <param name="x">The operand.</param><returns>The error function.</returns>
    public static Tensor Erf(Tensor x) => Eager.Map(Prims.Erf, x);

    /// <summary><c>arctan x</c> elementwise, in radians (between -π/2 and π/2). Example: <c>Atan(1)</c> is <c>π/4 ≈ 0.7854</c>.</summary>
    /// <param name="x">The operand.</param><returns>The arctangent.</returns>
    public static Tensor Atan(Tensor x) => Eager.Map(Prims.Atan, x);

    /// <summary><c>x²</c> elementwise. Example: <c>Square([-3, 2])</c> is <c>[9., 4.]</c>.</summary>
    /// <param name="x">The operand.</param><returns>The squares.</returns>
    public static Tensor Square(Tensor x) =>
        // an integer square stays an integer (C#'s wrapping product); the scalar function is on floats
        x is not null && DTypes.IsInteger(x.DType) ? Mul(x, x) : Eager.Map(Prims.Square, x!);

    /// <summary>
    /// <c>min(max(x, lo), hi)</c> elementwise, broadcasting all three (numpy's and JAX's <c>clip</c>); NaN propagates.
    /// The derivative flows to <paramref name="x"/> between the bounds (at a bound too) and to the bound that is exceeded outside them.
    /// Example: <c>Clip([-2, 0.5, 3], -1, 1)</c> is <c>[-1., 0.5, 1.]</c>.
    /// </summary>
    /// <param name="x">The values.</param><param name="lo">The lower bound.</param><param name="hi">The upper bound (at least <paramref name="lo"/>).</param>
    /// <returns>The clipped values.</returns>
    public static Tensor Clip(Tensor x, Tensor lo, Tensor hi) => Minimum(Maximum(x, lo), hi);

    /// <summary>
    /// C#'s remainder <c>a % b</c> elementwise, broadcasting: truncated, with the sign of the dividend, on integers (where a
    /// zero divisor throws <see cref="DivideByZeroException"/>, as C# does) and on floats (<c>Math.IEEERemainder</c> is
    /// not it: this is fmod). Example: <c>Remainder([-7, 7], 3)</c> is <c>[-1, 1]</c>.
    /// </summary>
    /// <param name="a">The dividend.</param><param name="b">The divisor.</param><returns>The remainder.</returns>
    public static Tensor Remainder(Tensor a, Tensor b) => Binary<RemOp>("Remainder", a, b);

    /// <summary>Elementwise logical and of two masks (bool tensors; a number counts as true where non-zero). Example: <c>LogicalAnd(x &gt; 0, x &lt; 1)</c>.</summary>
    /// <param name="a">Left mask.</param><param name="b">Right mask.</param><returns>A bool tensor.</returns>
    public static Tensor LogicalAnd(Tensor a, Tensor b) => Logic("LogicalAnd", a, b);

    /// <summary>Elementwise logical or of two masks (bool tensors; a number counts as true where non-zero).</summary>
    /// <param name="a">Left mask.</param><param name="b">Right mask.</param><returns>A bool tensor.</returns>
    public static Tensor LogicalOr(Tensor a, Tensor b) => Logic("LogicalOr", a, b);

    /// <summary>Elementwise logical not of a mask (a bool tensor; a number counts as true where non-zero).</summary>
    /// <param name="x">The mask.</param><returns>A bool tensor.</returns>
    public static Tensor LogicalNot(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var m = Eager.Mask(x);
        var r = new bool[m.Length];
        for (int i = 0; i < r.Length; i++) r[i] = !m[i];
        return Eager.Make(r, x.Dims);
    }

    static Tensor Logic(string name, Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var od = OutDims(name, a, b);
        var ma = Eager.Mask(a);
        var mb = Eager.Mask(b);
        // a and b = a ? b : false; a or b = a ? true : b
        var r = name == "LogicalOr" ? Kernels.Where(ma, a.Dims, [true], [], mb, b.Dims, od) : Kernels.Where(ma, a.Dims, mb, b.Dims, [false], [], od);
        return Eager.Make(r, od);
    }

    /// <summary>The bool mask <c>a &gt; b</c>, broadcasting, compared in the promoted dtype. Example: <c>Greater([1, 3], 2)</c> is <c>[false, true]</c>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The mask.</returns>
    public static Tensor Greater(Tensor a, Tensor b) => Compare<GreaterTest>("Greater", a, b);

    /// <summary>The bool mask <c>a &lt; b</c>, broadcasting, compared in the promoted dtype. Example: <c>Less([1, 3], 2)</c> is <c>[true, false]</c>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The mask.</returns>
    public static Tensor Less(Tensor a, Tensor b) => Compare<LessTest>("Less", a, b);

    /// <summary>The bool mask <c>a &gt;= b</c>, broadcasting, compared in the promoted dtype. Example: <c>GreaterEqual([1, 2], 2)</c> is <c>[false, true]</c>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The mask.</returns>
    public static Tensor GreaterEqual(Tensor a, Tensor b) => Compare<GreaterEqualTest>("GreaterEqual", a, b);

    /// <summary>The bool mask <c>a &lt;= b</c>, broadcasting, compared in the promoted dtype. Example: <c>LessEqual([2, 3], 2)</c> is <c>[true, false]</c>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The mask.</returns>
    public static Tensor LessEqual(Tensor a, Tensor b) => Compare<LessEqualTest>("LessEqual", a, b);

    /// <summary>Mask <c>a == b ? 1 : 0</c>, broadcasting, in the promoted dtype (NaN equals nothing). Example: <c>Equal([1, 2], 2)</c> is <c>[0., 1.]</c>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The mask.</returns>
    public static Tensor Equal(Tensor a, Tensor b) => Compare<EqualTest>("Equal", a, b);

    /// <summary>
    /// <c>cond ? a : b</c> elementwise, broadcasting all three; the result has the promoted dtype of
    /// <paramref name="a"/> and <paramref name="b"/>. The condition is a bool tensor (what comparisons give); a number
    /// tensor also works, true where non-zero (NaN included).
    /// Example: <c>Where([1, 0], [1, 2], [10, 20])</c> is <c>[1., 20.]</c>.
    /// </summary>
    /// <param name="cond">The selector.</param><param name="a">Chosen where cond is non-zero.</param><param name="b">Chosen where cond is zero.</param>
    /// <returns>The selection.</returns>
    public static Tensor Where(Tensor cond, Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(cond);
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var (dt, weak) = DTypes.Promote(a.DType, a.IsWeak, b.DType, b.IsWeak);
        var ab = Kernels.BroadcastShapes(a.Dims, b.Dims);
        var od = ab is null ? null : Kernels.BroadcastShapes(cond.Dims, ab);
        if (od is null)
            throw ShapeException.Of("Np.Where", "shapes do not broadcast together; each trailing axis must be equal across the three or 1", ("cond", cond.Aval), ("a", a.Aval), ("b", b.Aval));
        var mask = Eager.Mask(cond);
        return dt switch
        {
            DType.Float32 => Eager.Make(Kernels.Where(mask, cond.Dims, Eager.Data<float>(a), a.Dims, Eager.Data<float>(b), b.Dims, od), od, weak),
            DType.Float64 => Eager.Make(Kernels.Where(mask, cond.Dims, Eager.Data<double>(a), a.Dims, Eager.Data<double>(b), b.Dims, od), od, weak),
            DType.Int32 => Eager.Make(Kernels.Where(mask, cond.Dims, Eager.Data<int>(a), a.Dims, Eager.Data<int>(b), b.Dims, od), od, weak),
            DType.Int64 => Eager.Make(Kernels.Where(mask, cond.Dims, Eager.Data<long>(a), a.Dims, Eager.Data<long>(b), b.Dims, od), od, weak),
            DType.Bool => Eager.Make(Kernels.Where(mask, cond.Dims, Eager.Data<bool>(a), a.Dims, Eager.Data<bool>(b), b.Dims, od), od, weak),
            DType.Float16 => Eager.Make(Kernels.Where(mask, cond.Dims, Eager.Data<Half>(a), a.Dims, Eager.Data<Half>(b), b.Dims, od), od, weak),
            _ => Eager.Make(Kernels.Where(mask, cond.Dims, Eager.Data<BFloat16>(a), a.Dims, Eager.Data<BFloat16>(b), b.Dims, od), od, weak),
        };
    }

    // ---------------------------------------------------------------- linear algebra

    /// <summary>
    /// numpy's <c>dot</c> for vectors and matrices: <c>Σ_k a[k] b[k]</c> (1·1, a scalar),
    /// <c>Σ_k a[i,k] b[k]</c> (2·1), <c>Σ_k a[k] b[k,j]</c> (1·2) and <c>Σ_k a[i,k] b[k,j]</c> (2·2).
    /// Example: <c>Dot([[1, 2], [3, 4]], [1, 1])</c> is <c>[3., 7.]</c>. Other ranks: use <see cref="MatMul"/> or <c>*</c>.
    /// </summary>
    /// <param name="a">A vector <c>[k]</c> or matrix <c>[m,k]</c>.</param>
    /// <param name="b">A vector <c>[k]</c> or matrix <c>[k,n]</c>.</param>
    /// <returns>The product.</returns>
    /// <exception cref="ShapeException">A rank is not 1 or 2, or the contracted axes differ.</exception>
    public static Tensor Dot(Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Rank is not (1 or 2) || b.Rank is not (1 or 2))
        {
            int bad = a.Rank is not (1 or 2) ? a.Rank : b.Rank;
            throw ShapeException.Of("Np.Dot", $"Dot takes vectors and matrices (rank 1 or 2), not rank {bad}; use MatMul for batched products or * for elementwise and scalar products", ("a", a.Aval), ("b", b.Aval));
        }
        int k = a.Dims[^1], kb = b.Dims[0];
        if (k != kb)
            throw ShapeException.Of("Np.Dot", $"contracted axes differ ({k} vs {kb}); Dot takes a[...,k] with b[k] or b[k,n]", ("a", a.Aval), ("b", b.Aval));
        var (dt, weak) = DTypes.Promote(a.DType, a.IsWeak, b.DType, b.IsWeak);
        Eager.CheckNumber(dt, "Np.Dot", a, b);
        if (DTypes.IsHalf(dt)) return Eager.ViaFloat32(dt, x => Dot(x[0], x[1]), a, b);
        return dt switch
        {
            DType.Float64 => DotImpl<double>(a, b, weak),
            DType.Int32 => DotImpl<int>(a, b, weak),
            DType.Int64 => DotImpl<long>(a, b, weak),
            _ => DotImpl<float>(a, b, weak),
        };
    }

    private static Tensor DotImpl<T>(Tensor a, Tensor b, bool weak) where T : unmanaged, INumber<T>
    {
        var x = Eager.Data<T>(a);
        var y = Eager.Data<T>(b);
        int k = a.Dims[^1];
        switch (a.Rank, b.Rank)
        {
            case (1, 1):
                return Eager.Make(new[] { TensorPrimitives.Dot(x, y) }, [], weak);
            case (2, 1):
            {
                int m = a.Dims[0];
                var r = new T[m];
                Kernels.Gemm(x, false, y, true, r, m, k, 1);
                return Eager.Make(r, [m], weak);
            }
            case (1, 2):
            {
                int n = b.Dims[1];
                var r = new T[n];
                Kernels.Gemm(x, false, y, false, r, 1, k, n);
                return Eager.Make(r, [n], weak);
            }
            default:
            {
                int m = a.Dims[0], n = b.Dims[1];
                var r = new T[m * n];
                Kernels.Gemm(x, false, y, false, r, m, k, n);
                return Eager.Make(r, [m, n], weak);
            }
        }
    }

    /// <summary>
    /// numpy's <c>matmul</c> (<c>@</c>): <c>out[..., i, j] = Σ_k a[..., i, k] b[..., k, j]</c> with the batch
    /// axes broadcast; a rank-1 <paramref name="a"/> is a row <c>[1,k]</c> and a rank-1 <paramref name="b"/> a
    /// column <c>[k,1]</c>, the added axis removed from the result.
    /// Example: <c>MatMul(Ones([5, 2, 3]), Ones([3, 4]))</c> has shape [5,2,4], every element 3.
    /// </summary>
    /// <param name="a">Rank at least 1.</param>
    /// <param name="b">Rank at least 1.</param>
    /// <returns>The product.</returns>
    /// <exception cref="ShapeException">A rank is 0, the contracted axes differ, or the batch axes do not broadcast.</exception>
    public static Tensor MatMul(Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Rank == 0 || b.Rank == 0)
            throw ShapeException.Of("Np.MatMul", "MatMul takes operands of rank 1 or more; use * to multiply by a scalar", ("a", a.Aval), ("b", b.Aval));
        int[] ad = a.Rank == 1 ? [1, a.Dims[0]] : a.Dims;
        int[] bd = b.Rank == 1 ? [b.Dims[0], 1] : b.Dims;
        int m = ad[^2], k = ad[^1], n = bd[^1];
        if (k != bd[^2])
            throw ShapeException.Of("Np.MatMul", $"contracted axes differ ({k} vs {bd[^2]}); MatMul takes a[...,m,k] (or a[k]) with b[...,k,n] (or b[k])", ("a", a.Aval), ("b", b.Aval));
        var batch = Kernels.BroadcastShapes(ad[..^2], bd[..^2])
            ?? throw ShapeException.Of("Np.MatMul", $"batch axes {Eager.Dims(ad[..^2])} and {Eager.Dims(bd[..^2])} do not broadcast; each trailing batch axis must be equal or 1", ("a", a.Aval), ("b", b.Aval));
        var od = new List<int>(batch);
        if (a.Rank > 1) od.Add(m);
        if (b.Rank > 1) od.Add(n);
        var (dt, weak) = DTypes.Promote(a.DType, a.IsWeak, b.DType, b.IsWeak);
        Eager.CheckNumber(dt, "Np.MatMul", a, b);
        if (DTypes.IsHalf(dt)) return Eager.ViaFloat32(dt, x => MatMul(x[0], x[1]), a, b);
        return dt switch
        {
            DType.Float64 => Eager.Make(Kernels.BatchedGemm(Eager.Data<double>(a), ad, false, Eager.Data<double>(b), bd, false, batch, m, k, n), od.ToArray(), weak),
            DType.Int32 => Eager.Make(Kernels.BatchedGemm(Eager.Data<int>(a), ad, false, Eager.Data<int>(b), bd, false, batch, m, k, n), od.ToArray(), weak),
            DType.Int64 => Eager.Make(Kernels.BatchedGemm(Eager.Data<long>(a), ad, false, Eager.Data<long>(b), bd, false, batch, m, k, n), od.ToArray(), weak),
            _ => Eager.Make(Kernels.BatchedGemm(Eager.Data<float>(a), ad, false, Eager.Data<float>(b), bd, false, batch, m, k, n), od.ToArray(), weak),
        };
    }

    // ---------------------------------------------------------------- shape

    /// <summary>
    /// Permutes the axes: <c>out.shape[i] = x.shape[axes[i]]</c>; <c>null</c> reverses them.
    /// Example: <c>Transpose(x)</c> of a 2x3 is its 3x2 transpose; <c>Transpose(x, [0, 2, 1])</c> swaps the last two axes.
    /// </summary>
    /// <param name="x">The tensor.</param>
    /// <param name="axes">A permutation of <c>0 .. rank-1</c> (negative allowed), or <c>null</c>.</param>
    /// <returns>The transposed tensor.</returns>
    public static Tensor Transpose(Tensor x, int[]? axes = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        int rank = x.Rank;
        var perm = new int[rank];
        if (axes is null)
        {
            for (int i = 0; i < rank; i++) perm[i] = rank - 1 - i;
        }
        else
        {
            string Call() => $"Np.Transpose(x: {x.Aval}, axes: {Eager.Dims(axes)})";
            if (axes.Length != rank)
                throw new ShapeException(Call(), [x.Aval], $"axes must be a permutation of 0 .. {rank - 1} ({rank} entries), got {axes.Length}");
            var seen = new bool[rank];
            for (int i = 0; i < rank; i++)
            {
                int a = Eager.Axis(axes[i], rank, Call, [x.Aval]);
                if (seen[a]) throw new ShapeException(Call(), [x.Aval], $"axis {a} appears twice; axes must be a permutation of 0 .. {rank - 1}");
                seen[a] = true;
                perm[i] = a;
            }
        }
        bool identity = true;
        for (int i = 0; i < rank; i++) identity &= perm[i] == i;
        if (identity) return x;
        var od = new int[rank];
        for (int i = 0; i < rank; i++) od[i] = x.Dims[perm[i]];
        // moving only axes of length 1 keeps the elements in order: the same storage under the new shape, as Reshape
        // (Vmap's rewrites move a batch axis next to a length-1 one, e.g. [64, 1, 16, 4, 4] to [1, 64, 16, 4, 4])
        if (KeepsOrder(perm, x.Dims)) return Tensor.Adopt(x.Managed is { } m ? m : x.HostArray(), Aval.Intern(od, x.DType, x.IsWeak));
        return Tensor.Adopt(Moves.Transpose(x, perm), Aval.Intern(od, x.DType, x.IsWeak));
    }

    /// <summary>Whether the axes of length other than 1 keep their relative order under <paramref name="perm"/>.</summary>
    static bool KeepsOrder(int[] perm, int[] dims)
    {
        int last = -1;
        foreach (var a in perm)
        {
            if (dims[a] == 1) continue;
            if (a < last) return false;
            last = a;
        }
        return true;
    }

    /// <summary>
    /// The same elements in row-major order with a new shape; one dimension may be -1 and is inferred.
    /// Example: <c>Reshape(Arange(6), [2, -1])</c> is <c>[[0., 1., 2.], [3., 4., 5.]]</c>.
    /// </summary>
    /// <param name="x">The tensor.</param>
    /// <param name="shape">The new dimensions, with the same product as x's.</param>
    /// <returns>The reshaped tensor.</returns>
    public static Tensor Reshape(Tensor x, int[] shape)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(shape);
        string Call() => $"Np.Reshape(x: {x.Aval}, shape: {Eager.Dims(shape)})";
        var od = (int[])shape.Clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < od.Length; i++)
        {
            if (od[i] == -1)
            {
                if (infer >= 0) throw new ShapeException(Call(), [x.Aval], "only one dimension may be -1");
                infer = i;
            }
            else if (od[i] < 0) throw new ShapeException(Call(), [x.Aval], $"dimension {od[i]} is negative; only -1 (inferred) is allowed");
            else known *= od[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || x.Size % known != 0)
                throw new ShapeException(Call(), [x.Aval], $"cannot infer the -1 dimension: {x.Size} elements are not a multiple of {known}");
            od[infer] = (int)(x.Size / known);
        }
        else if (known != x.Size)
            throw new ShapeException(Call(), [x.Aval], $"{x.Size} elements cannot take a shape of {known}; the product of the new shape must equal x's size");
        if (SmallArrays.Same(od, x.Dims)) return x;
        return Tensor.Adopt(x.Managed is { } m ? m : x.HostArray(), Aval.Intern(od, x.DType, x.IsWeak));
    }

    /// <summary>
    /// Broadcasts to <paramref name="shape"/> by numpy's rules (prepend axes; stretch size-1 axes).
    /// Example: <c>BroadcastTo([1, 2], [2, 2])</c> is <c>[[1., 2.], [1., 2.]]</c>.
    /// </summary>
    /// <param name="x">The tensor.</param>
    /// <param name="shape">The target dimensions.</param>
    /// <returns>The broadcast tensor.</returns>
    public static Tensor BroadcastTo(Tensor x, int[] shape)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(shape);
        if (!Kernels.BroadcastsTo(x.Dims, shape) || shape.Any(d => d < 0))
            throw new ShapeException($"Np.BroadcastTo(x: {x.Aval}, shape: {Eager.Dims(shape)})", [x.Aval],
                "x does not broadcast to that shape; numpy broadcasting prepends axes and stretches only axes of size 1");
        if (SmallArrays.Same(shape, x.Dims)) return x;
        var od = (int[])shape.Clone();
        return Tensor.Adopt(Moves.Broadcast(x, od), Aval.Intern(od, x.DType, x.IsWeak));
    }

    /// <summary>
    /// Joins tensors along an existing axis; all other dimensions must agree. The dtype is the promoted dtype of all.
    /// Example: <c>Concatenate([[1, 2], [3]])</c> is <c>[1., 2., 3.]</c>.
    /// </summary>
    /// <param name="xs">At least one tensor, all of the same rank (at least 1).</param>
    /// <param name="axis">The axis to join along.</param>
    /// <returns>The joined tensor.</returns>
    public static Tensor Concatenate(Tensor[] xs, int axis = 0)
    {
        ArgumentNullException.ThrowIfNull(xs);
        string Call() => $"Np.Concatenate(xs: [{string.Join(", ", xs.Select(t => t.Aval))}], axis: {axis})";
        var avals = xs.Select(t => t.Aval).ToArray();
        if (xs.Length == 0) throw new ShapeException(Call(), avals, "needs at least one tensor");
        int rank = xs[0].Rank;
        if (rank == 0) throw new ShapeException(Call(), avals, "cannot concatenate rank-0 tensors; use Stack");
        int ax = Eager.Axis(axis, rank, Call, avals);
        var (dt, weak) = (xs[0].DType, xs[0].IsWeak);
        int total = 0;
        foreach (var t in xs)
        {
            if (t.Rank != rank) throw new ShapeException(Call(), avals, $"all tensors must have the same rank; found {rank} and {t.Rank}");
            for (int i = 0; i < rank; i++)
                if (i != ax && t.Dims[i] != xs[0].Dims[i])
                    throw new ShapeException(Call(), avals, $"dimensions other than axis {ax} must agree; axis {i} has {xs[0].Dims[i]} and {t.Dims[i]}");
            total += t.Dims[ax];
            (dt, weak) = DTypes.Promote(dt, weak, t.DType, t.IsWeak);
        }
        var od = (int[])xs[0].Dims.Clone();
        od[ax] = total;
        return Tensor.Adopt(Moves.Concat(xs, ax, od, dt), Aval.Intern(od, dt, weak));
    }


    /// <summary>
    /// Joins same-shape tensors along a new axis at position <paramref name="axis"/> (in the result).
    /// Example: <c>Stack([[1, 2], [3, 4]])</c> is <c>[[1., 2.], [3., 4.]]</c>; with axis 1 it is <c>[[1., 3.], [2., 4.]]</c>.
    /// </summary>
    /// <param name="xs">At least one tensor, all of the same shape.</param>
    /// <param name="axis">Where the new axis goes, <c>-(rank+1) .. rank</c>.</param>
    /// <returns>The stacked tensor.</returns>
    public static Tensor Stack(Tensor[] xs, int axis = 0)
    {
        ArgumentNullException.ThrowIfNull(xs);
        string Call() => $"Np.Stack(xs: [{string.Join(", ", xs.Select(t => t.Aval))}], axis: {axis})";
        var avals = xs.Select(t => t.Aval).ToArray();
        if (xs.Length == 0) throw new ShapeException(Call(), avals, "needs at least one tensor");
        int rank = xs[0].Rank;
        int ax = Eager.Axis(axis, rank + 1, Call, avals);
        var (dt, weak) = (xs[0].DType, xs[0].IsWeak);
        foreach (var t in xs)
        {
            if (!SmallArrays.Same(t.Dims, xs[0].Dims))
                throw new ShapeException(Call(), avals, $"all tensors must have the same shape; found {Eager.Dims(xs[0].Dims)} and {Eager.Dims(t.Dims)}");
            (dt, weak) = DTypes.Promote(dt, weak, t.DType, t.IsWeak);
        }
        var od = Eager.Insert(xs[0].Dims, ax, xs.Length);
        return Tensor.Adopt(Moves.Stack(xs, ax, od, dt), Aval.Intern(od, dt, weak));
    }


    /// <summary>
    /// Gathers along an axis: <c>out[i.., j.., k..] = x[i.., indices[j..], k..]</c>, so the result's shape is
    /// <c>x.shape[:axis] + indices.shape + x.shape[axis+1:]</c>. Negative indices count from the end.
    /// Example: <c>Take([10, 20, 30], [2, 0, -1])</c> is <c>[30., 10., 30.]</c>.
    /// </summary>
    /// <param name="x">The tensor to gather from.</param>
    /// <param name="indices">A tensor of integral values, any rank.</param>
    /// <param name="axis">The axis indexed.</param>
    /// <returns>The gathered tensor, in x's dtype.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside <c>-n .. n-1</c>.</exception>
    public static Tensor Take(Tensor x, Tensor indices, int axis = 0)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(indices);
        string Call() => $"Np.Take(x: {x.Aval}, indices: {indices.Aval}, axis: {axis})";
        int ax = Eager.Axis(axis, x.Rank, Call, [x.Aval, indices.Aval]);
        int n = x.Dims[ax];
        var idx = Eager.Indices(indices, n, "Np.Take", x.Aval, ax);
        int outer = Kernels.Product(x.Dims, 0, ax), inner = Kernels.Product(x.Dims, ax + 1);
        var od = x.Dims[..ax].Concat(indices.Dims).Concat(x.Dims[(ax + 1)..]).ToArray();
        return Tensor.Adopt(Moves.Take(x, outer, n, inner, idx), Aval.Intern(od, x.DType, x.IsWeak));
    }

    /// <summary>
    /// One-hot encoding: appends an axis of size <paramref name="n"/>, <c>out[..., j] = indices[...] == j ? 1 : 0</c>.
    /// An index outside <c>0 .. n-1</c> gives a row of zeros (as <c>jax.nn.one_hot</c>).
    /// Example: <c>OneHot([2, 0], 3)</c> is <c>[[0., 0., 1.], [1., 0., 0.]]</c>.
    /// </summary>
    /// <param name="indices">Integral values, any rank.</param>
    /// <param name="n">The number of classes.</param>
    /// <param name="dtype">The result dtype.</param>
    /// <returns>The encoding.</returns>
    public static Tensor OneHot(Tensor indices, int n, DType dtype = DType.Float32)
    {
        ArgumentNullException.ThrowIfNull(indices);
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "the number of classes must be non-negative");
        DTypes.Check(dtype, "Np.OneHot");
        var v = indices.ToDoubleArray();
        var od = Eager.Insert(indices.Dims, indices.Rank, n);
        if (dtype == DType.Float64)
        {
            var r = new double[v.Length * n];
            for (int i = 0; i < v.Length; i++) if (v[i] >= 0 && v[i] < n && v[i] == Math.Floor(v[i])) r[i * n + (int)v[i]] = 1;
            return Eager.Make(r, od);
        }
        var f = new float[v.Length * n];
        for (int i = 0; i < v.Length; i++) if (v[i] >= 0 && v[i] < n && v[i] == Math.Floor(v[i])) f[i * n + (int)v[i]] = 1;
        var t = Eager.Make(f, od);
        return dtype == DType.Float32 ? t : Eager.To(t, dtype);
    }

    // ---------------------------------------------------------------- reductions

    /// <summary>
    /// <c>Σ x</c> over one axis, or over all when <paramref name="axis"/> is null. With <paramref name="keepdims"/> the
    /// reduced axes stay with size 1. Example: <c>Sum([[1, 2], [3, 4]], axis: 0)</c> is <c>[4., 6.]</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="axis">The axis, or null for all.</param><param name="keepdims">Keep reduced axes as size 1.</param>
    /// <returns>The sum.</returns>
    public static Tensor Sum(Tensor x, int? axis = null, bool keepdims = false) => Reduce(x, axis, keepdims, "Sum");

    /// <summary>
    /// The arithmetic mean <c>Σ x / n</c> over one axis or all. Example: <c>Mean([[1, 2], [3, 4]], axis: 1)</c> is <c>[1.5, 3.5]</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="axis">The axis, or null for all.</param><param name="keepdims">Keep reduced axes as size 1.</param>
    /// <returns>The mean (NaN over an empty axis).</returns>
    public static Tensor Mean(Tensor x, int? axis = null, bool keepdims = false) => Reduce(x, axis, keepdims, "Mean");

    /// <summary>
    /// The maximum over one axis or all; NaN propagates. Example: <c>Max([[1, 5], [3, 4]], axis: 0)</c> is <c>[3., 5.]</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="axis">The axis, or null for all.</param><param name="keepdims">Keep reduced axes as size 1.</param>
    /// <returns>The maximum.</returns>
    /// <exception cref="ShapeException">The reduced axis is empty.</exception>
    public static Tensor Max(Tensor x, int? axis = null, bool keepdims = false) => Reduce(x, axis, keepdims, "Max");

    /// <summary>
    /// The index of the first maximum (of the first NaN, if any) over one axis, or over the flattened tensor when
    /// <paramref name="axis"/> is null, as a tensor of x's dtype. Example: <c>Argmax([1, 7, 7])</c> is <c>1</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="axis">The axis, or null for the flattened tensor.</param>
    /// <returns>The indices (not weak).</returns>
    public static Tensor Argmax(Tensor x, int? axis = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        string Call() => $"Np.Argmax(x: {x.Aval}, axis: {(axis is null ? "null" : axis)})";
        int outer = 1, n = x.Size, inner = 1;
        int[] od = [];
        if (axis is int a0)
        {
            int ax = Eager.Axis(a0, x.Rank, Call, [x.Aval]);
            (outer, n, inner) = (Kernels.Product(x.Dims, 0, ax), x.Dims[ax], Kernels.Product(x.Dims, ax + 1));
            od = Eager.Remove(x.Dims, ax);
        }
        if (n == 0) throw new ShapeException(Call(), [x.Aval], "the reduced axis is empty, so there is no maximum");
        return x.DType switch
        {
            DType.Float64 => Eager.Make(Kernels.ArgmaxAxis(x.Span<double>(), outer, n, inner), od),
            DType.Float32 => Eager.Make(Kernels.ArgmaxAxis(x.Span<float>(), outer, n, inner), od),
            DType.Int32 => Eager.Make(Kernels.ArgmaxAxis(x.Span<int>(), outer, n, inner), od),
            DType.Int64 => Eager.Make(Kernels.ArgmaxAxis(x.Span<long>(), outer, n, inner), od),
            _ => Eager.Make(Kernels.ArgmaxAxis(Eager.Data<float>(x), outer, n, inner), od),
        };
    }

    /// <summary>
    /// <c>ln Σ e^x</c> over one axis or all, computed stably as <c>m + ln Σ e^(x - m)</c> with <c>m = max x</c>
    /// (m taken as 0 when it is infinite). Example: <c>LogSumExp([0, 0])</c> is <c>ln 2</c>; <c>LogSumExp([1000, 1000])</c> is <c>1000 + ln 2</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="axis">The axis, or null for all.</param><param name="keepdims">Keep reduced axes as size 1.</param>
    /// <returns>The log-sum-exp.</returns>
    public static Tensor LogSumExp(Tensor x, int? axis = null, bool keepdims = false)
    {
        ArgumentNullException.ThrowIfNull(x);
        x = Eager.FloatOperand(x);
        if (DTypes.IsHalf(x.DType)) return Eager.ViaFloat32(x.DType, a => LogSumExp(a[0], axis, keepdims), x);
        int count = axis is int a0 ? x.Dims[Eager.Axis(a0, x.Rank, () => $"Np.LogSumExp(x: {x.Aval}, axis: {a0})", [x.Aval])] : x.Size;
        if (count == 0) return Eager.Fill(Sum(x, axis, keepdims).Dims, double.NegativeInfinity, x.DType, x.IsWeak);
        var m = FiniteOrZero(Max(x, axis, keepdims: true));
        var s = Log(Sum(Exp(Sub(x, m)), axis, keepdims: true));
        var r = Add(s, m);
        return keepdims ? r : Reshape(r, Sum(x, axis, keepdims: false).Dims);
    }

    /// <summary>m where finite, 0 elsewhere: the shift that keeps LogSumExp stable without turning inf - inf into NaN.</summary>
    private static Tensor FiniteOrZero(Tensor m)
    {
        if (m.DType == DType.Float64)
        {
            var d = m.Span<double>().ToArray();
            for (int i = 0; i < d.Length; i++) if (!double.IsFinite(d[i])) d[i] = 0;
            return Eager.Make(d, m.Dims, m.IsWeak);
        }
        var f = m.Span<float>().ToArray();
        for (int i = 0; i < f.Length; i++) if (!float.IsFinite(f[i])) f[i] = 0;
        return Eager.Make(f, m.Dims, m.IsWeak);
    }

    /// <summary>
    /// <c>e^(x - m) / Σ e^(x - m)</c> along an axis (<c>m</c> the max, for stability). Example: <c>Softmax([0, ln 3])</c> is <c>[0.25, 0.75]</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="axis">The axis normalised over.</param>
    /// <returns>Probabilities summing to 1 along the axis.</returns>
    public static Tensor Softmax(Tensor x, int axis = -1)
    {
        ArgumentNullException.ThrowIfNull(x);
        Eager.Axis(axis, x.Rank, () => $"Np.Softmax(x: {x.Aval}, axis: {axis})", [x.Aval]);
        x = Eager.FloatOperand(x);
        if (DTypes.IsHalf(x.DType)) return Eager.ViaFloat32(x.DType, a => Softmax(a[0], axis), x);
        var e = Exp(Sub(x, FiniteOrZero(Max(x, axis, keepdims: true))));
        return Div(e, Sum(e, axis, keepdims: true));
    }

    /// <summary>
    /// <c>x - LogSumExp(x, axis, keepdims: true)</c>, the log of <see cref="Softmax"/> computed stably.
    /// Example: <c>LogSoftmax([0, 0])</c> is <c>[-ln 2, -ln 2]</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="axis">The axis normalised over.</param>
    /// <returns>Log-probabilities.</returns>
    public static Tensor LogSoftmax(Tensor x, int axis = -1)
    {
        ArgumentNullException.ThrowIfNull(x);
        Eager.Axis(axis, x.Rank, () => $"Np.LogSoftmax(x: {x.Aval}, axis: {axis})", [x.Aval]);
        x = Eager.FloatOperand(x);
        if (DTypes.IsHalf(x.DType)) return Eager.ViaFloat32(x.DType, a => LogSoftmax(a[0], axis), x);
        return Sub(x, LogSumExp(x, axis, keepdims: true));
    }

    // ---------------------------------------------------------------- structure

    /// <summary>
    /// Returns <paramref name="x"/> unchanged. Eagerly the identity; transformations treat its result as a
    /// constant (its derivative is zero), as <c>jax.lax.stop_gradient</c>.
    /// </summary>
    /// <param name="x">The tensor.</param>
    /// <returns><paramref name="x"/>.</returns>
    public static Tensor StopGradient(Tensor x) => x;

    /// <summary>
    /// A named intermediate: <c>Let(value, v => body)</c> is <c>body(value)</c>, computed once. Expression
    /// lambdas cannot hold statements, so this is how they share a value.
    /// Example: <c>Let(Tanh(x), t => 1 - t * t)</c>.
    /// </summary>
    /// <typeparam name="T">The value's type.</typeparam><typeparam name="TResult">The body's result type.</typeparam>
    /// <param name="value">The value bound.</param><param name="body">The body, given the value.</param>
    /// <returns><c>body(value)</c>.</returns>
    public static TResult Let<T, TResult>(T value, Func<T, TResult> body) => body(value);

    /// <summary>A pair, for functions with two outputs (tuple literals are not allowed in expression lambdas). Example: <c>Tuple(Sum(x), Max(x))</c>.</summary>
    /// <typeparam name="T1">First type.</typeparam><typeparam name="T2">Second type.</typeparam>
    /// <param name="a">First item.</param><param name="b">Second item.</param>
    /// <returns><c>(a, b)</c>.</returns>
    public static (T1, T2) Tuple<T1, T2>(T1 a, T2 b) => (a, b);

    /// <summary>A triple, for functions with three outputs. Example: <c>Tuple(x, y, z)</c>.</summary>
    /// <typeparam name="T1">First type.</typeparam><typeparam name="T2">Second type.</typeparam><typeparam name="T3">Third type.</typeparam>
    /// <param name="a">First item.</param><param name="b">Second item.</param><param name="c">Third item.</param>
    /// <returns><c>(a, b, c)</c>.</returns>
    public static (T1, T2, T3) Tuple<T1, T2, T3>(T1 a, T2 b, T3 c) => (a, b, c);

    // ---------------------------------------------------------------- plumbing

    private static int[] CheckShape(int[] shape, string op)
    {
        ArgumentNullException.ThrowIfNull(shape);
        long size = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"{op}(shape: {Eager.Dims(shape)}): dimensions must be non-negative", nameof(shape));
            size = Math.Min(size * d, long.MaxValue / 65536);
        }
        if (size > Array.MaxLength)
            throw new ArgumentException($"{op}(shape: {Eager.Dims(shape)}): {size:N0} elements is more than one tensor can hold ({Array.MaxLength:N0}); split it into smaller tensors", nameof(shape));
        return (int[])shape.Clone();
    }

    private static Tensor FloatUnary<TOp>(Tensor x) where TOp : IFloatUnaryOp =>
        x is null ? throw new ArgumentNullException(nameof(x), $"Np.{typeof(TOp).Name[..^2]}: the tensor x is null.")
        // a weak scalar (a C# double) stays exact: compute in double and keep it weak
        : x.ExactScalar is double exact ? new Tensor(Kernels.FloatUnary<double, TOp>(new[] { exact })[0])
        : DTypes.IsHalf(x.DType) ? Eager.ViaFloat32(x.DType, a => FloatUnary<TOp>(a[0]), x)
        : !DTypes.IsFloat(x.DType) ? FloatUnary<TOp>(Eager.FloatOperand(x))
        : x.DType == DType.Float64
            ? Eager.Make(Kernels.FloatUnary<double, TOp>(x.Span<double>()), x.Dims, x.IsWeak)
            : Eager.Make(Kernels.FloatUnary<float, TOp>(x.Span<float>()), x.Dims, x.IsWeak);

    private static Tensor Unary<TOp>(Tensor x) where TOp : IUnaryOp
    {
        if (x is null) throw new ArgumentNullException(nameof(x), $"Np.{typeof(TOp).Name[..^2]}: the tensor x is null.");
        // a weak scalar (a C# double) stays exact: compute in double and keep it weak
        if (x.ExactScalar is double exact) return new Tensor(Kernels.Unary<double, TOp>(new[] { exact })[0]);
        Eager.CheckNumber(x.DType, $"Np.{typeof(TOp).Name[..^2]}", x);
        return x.DType switch
        {
            DType.Float64 => Eager.Make(Kernels.Unary<double, TOp>(x.Span<double>()), x.Dims, x.IsWeak),
            DType.Float32 => Eager.Make(Kernels.Unary<float, TOp>(x.Span<float>()), x.Dims, x.IsWeak),
            DType.Int32 => Eager.Make(Kernels.Unary<int, TOp>(x.Span<int>()), x.Dims, x.IsWeak),
            DType.Int64 => Eager.Make(Kernels.Unary<long, TOp>(x.Span<long>()), x.Dims, x.IsWeak),
            _ => Eager.ViaFloat32(x.DType, a => Unary<TOp>(a[0]), x),
        };
    }

    internal static Tensor Binary<TOp>(string name, Tensor a, Tensor b) where TOp : IBinaryOp
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var (dt, weak) = DTypes.Promote(a.DType, a.IsWeak, b.DType, b.IsWeak);
        // two weak scalars (C# doubles) stay exact: compute in double and keep the result weak
        if (a.ExactScalar is double ea && b.ExactScalar is double eb)
            return new Tensor(Kernels.Binary<double, TOp>(new[] { ea }, [], new[] { eb }, [], [])[0]);
        // Pow is defined on floats: integer and bool operands are promoted to float32
        if (typeof(TOp) == typeof(PowOp) && !DTypes.IsFloat(dt)) return Binary<TOp>(name, Eager.FloatOperand(a), Eager.FloatOperand(b));
        Eager.CheckNumber(dt, $"Np.{name}", a, b);
        if (DTypes.IsHalf(dt)) return Eager.ViaFloat32(dt, x => Binary<TOp>(name, x[0], x[1]), a, b);
        // shapes are immutable, so the output may share an operand's dims array
        var od = OutDims(name, a, b);
        return dt switch
        {
            DType.Float64 => Eager.Make(Kernels.Binary<double, TOp>(Eager.Data<double>(a), a.Dims, Eager.Data<double>(b), b.Dims, od), od, weak),
            DType.Int32 => Eager.Make(Kernels.Binary<int, TOp>(Eager.Data<int>(a), a.Dims, Eager.Data<int>(b), b.Dims, od), od, weak),
            DType.Int64 => Eager.Make(Kernels.Binary<long, TOp>(Eager.Data<long>(a), a.Dims, Eager.Data<long>(b), b.Dims, od), od, weak),
            _ => Eager.Make(Kernels.Binary<float, TOp>(Eager.Data<float>(a), a.Dims, Eager.Data<float>(b), b.Dims, od), od, weak),
        };
    }

    static int[] OutDims(string name, Tensor a, Tensor b) =>
        SmallArrays.Same(a.Dims, b.Dims) || (b.Size == 1 && b.Rank <= a.Rank) ? a.Dims
            : a.Size == 1 && a.Rank <= b.Rank ? b.Dims
            : Kernels.BroadcastShapes(a.Dims, b.Dims) ?? throw BroadcastError($"Np.{name}", a, b);

    /// <summary>
    /// A comparison: a bool tensor, computed in the promoted dtype of the operands (bools compare as 0 and 1; halves in
    /// float32, where the comparison is exact).
    /// </summary>
    internal static Tensor Compare<TTest>(string name, Tensor a, Tensor b) where TTest : struct, ICompare
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var (dt, _) = DTypes.Promote(a.DType, a.IsWeak, b.DType, b.IsWeak);
        if (a.ExactScalar is double ea && b.ExactScalar is double eb) return Tensor.Scalar(TTest.Test(ea, eb) ? 1 : 0, DType.Bool);
        var od = OutDims(name, a, b);
        bool[] r = dt switch
        {
            DType.Float64 => ToMask(Kernels.Binary<double, CompareOp<TTest>>(Eager.Data<double>(a), a.Dims, Eager.Data<double>(b), b.Dims, od)),
            DType.Int32 or DType.Bool => ToMask(Kernels.Binary<int, CompareOp<TTest>>(Eager.Data<int>(a), a.Dims, Eager.Data<int>(b), b.Dims, od)),
            DType.Int64 => ToMask(Kernels.Binary<long, CompareOp<TTest>>(Eager.Data<long>(a), a.Dims, Eager.Data<long>(b), b.Dims, od)),
            _ => ToMask(Kernels.Binary<float, CompareOp<TTest>>(Eager.Data<float>(a), a.Dims, Eager.Data<float>(b), b.Dims, od)),
        };
        return Eager.Make(r, od);
    }

    static bool[] ToMask<T>(T[] zeroOne) where T : unmanaged, INumber<T>
    {
        var r = new bool[zeroOne.Length];
        for (int i = 0; i < r.Length; i++) r[i] = zeroOne[i] != T.Zero;
        return r;
    }

    private static ShapeException BroadcastError(string op, Tensor a, Tensor b)
    {
        int ra = a.Rank, rb = b.Rank, r = Math.Max(ra, rb);
        string where = "";
        for (int i = 1; i <= r; i++)
        {
            int da = i <= ra ? a.Dims[ra - i] : 1, db = i <= rb ? b.Dims[rb - i] : 1;
            if (da != db && da != 1 && db != 1) { where = $" (axis -{i}: {da} vs {db})"; break; }
        }
        return ShapeException.Of(op, $"shapes do not broadcast{where}; numpy broadcasting aligns trailing axes, which must be equal or 1", ("a", a.Aval), ("b", b.Aval));
    }

    private static Tensor Reduce(Tensor x, int? axis, bool keepdims, string name)
    {
        ArgumentNullException.ThrowIfNull(x);
        int outer = 1, n = x.Size, inner = 1;
        int[] od;
        if (axis is int a0)
        {
            int ax = Eager.TryAxis(a0, x.Rank, out int inRange) ? inRange : ReduceAxisError(x, a0, keepdims, name);
            (outer, n, inner) = (Kernels.Product(x.Dims, 0, ax), x.Dims[ax], Kernels.Product(x.Dims, ax + 1));
            od = keepdims ? (int[])x.Dims.Clone() : Eager.Remove(x.Dims, ax);
            if (keepdims) od[ax] = 1;
        }
        else
        {
            od = keepdims ? Enumerable.Repeat(1, x.Rank).ToArray() : [];
        }
        if (name == "Max" && n == 0) throw new ShapeException(ReduceCall(x, axis, keepdims, name), [x.Aval], "the reduced axis is empty and Max has no identity; reduce a non-empty axis");
        // a sum of bools counts (int32); a mean of integers or bools is a float32; halves compute in float32
        if (x.DType == DType.Bool) x = Eager.To(x, name == "Mean" ? DType.Float32 : DType.Int32);
        if (name == "Mean" && DTypes.IsInteger(x.DType)) x = Eager.FloatOperand(x);
        if (DTypes.IsHalf(x.DType)) return Eager.ViaFloat32(x.DType, a => Reduce(a[0], axis, keepdims, name), x);
        return x.DType switch
        {
            DType.Float64 => ReduceImpl<double>(x, outer, n, inner, od, name),
            DType.Int32 => ReduceImpl<int>(x, outer, n, inner, od, name),
            DType.Int64 => ReduceImpl<long>(x, outer, n, inner, od, name),
            _ => ReduceImpl<float>(x, outer, n, inner, od, name),
        };
    }

    // apart from Reduce, so that its closure is built only when the axis is out of range
    private static int ReduceAxisError(Tensor x, int axis, bool keepdims, string name) =>
        Eager.Axis(axis, x.Rank, () => ReduceCall(x, axis, keepdims, name), [x.Aval]);

    private static string ReduceCall(Tensor x, int? axis, bool keepdims, string name) =>
        $"Np.{name}(x: {x.Aval}, axis: {(axis is null ? "null" : axis)}, keepdims: {(keepdims ? "true" : "false")})";

    private static Tensor ReduceImpl<T>(Tensor x, int outer, int n, int inner, int[] od, string name) where T : unmanaged, INumber<T>
    {
        var data = x.Span<T>();
        T[] r;
        if (name == "Max") r = Kernels.MaxAxis(data, outer, n, inner);
        else
        {
            r = Kernels.SumAxis(data, outer, n, inner);
            if (name == "Mean") TensorPrimitives.Divide(r, T.CreateChecked(n), r);
        }
        return Eager.Make(r, od, x.IsWeak);
    }
}
