using System.Numerics;

namespace Functional.AD;

// The product reduction and the cumulative vocabulary (declared in Primitives/Prims.Cumulative.cs): Prod, Cumsum,
// Cumprod, Cummax, CumLogSumExp, and Lax.LinearRecurrence, the linear scan their derivatives are written with.
public static partial class Np
{
    /// <summary>The (outer, n, inner) split of x's elements around axis <paramref name="ax"/> (already normalised).</summary>
    static (int Outer, int N, int Inner) AroundAxis(int[] dims, int ax) => (Kernels.Product(dims, 0, ax), dims[ax], Kernels.Product(dims, ax + 1));

    /// <summary>
    /// A scan along one axis: <c>r[0] = x[0]</c>, <c>r[i] = op(r[i - 1], x[i])</c> (from the end when
    /// <paramref name="reverse"/>), for each of the outer × inner lines.
    /// </summary>
    static T[] ScanAxis<T>(ReadOnlySpan<T> x, int outer, int n, int inner, bool reverse, Func<T, T, T> op) where T : unmanaged
    {
        var r = new T[x.Length];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int start = o * n * inner + i;
                T acc = default;
                for (int s = 0; s < n; s++)
                {
                    int at = start + (reverse ? n - 1 - s : s) * inner;
                    acc = s == 0 ? x[at] : op(acc, x[at]);
                    r[at] = acc;
                }
            }
        return r;
    }

    /// <summary>The maximum that propagates NaN (numpy's <c>maximum</c>): the first NaN met wins.</summary>
    static T NanMax<T>(T a, T b) where T : INumber<T> => T.IsNaN(a) ? a : T.IsNaN(b) || b > a ? b : a;

    /// <summary><c>log(e^a + e^b)</c> without overflow: the larger plus <c>log(1 + e^(smaller - larger))</c>; equal arguments (infinities included) give <c>a + log 2</c>.</summary>
    static double LogAddExp(double a, double b)
    {
        if (double.IsNaN(a) || double.IsNaN(b)) return double.NaN;
        if (a == b) return a + Math.Log(2);
        double m = Math.Max(a, b), d = Math.Min(a, b) - m;
        double e = Math.Exp(d), u = 1 + e;
        // log(1 + e) accurate for small e (Goldberg's correction, as Np.Log1p)
        return m + (u == 1 ? e : Math.Log(u) * (e / (u - 1)));
    }

    /// <summary>The checked axis of a cumulative call, and the call as an error names it.</summary>
    static int CumAxis(Tensor x, int axis, bool reverse, string name)
    {
        ArgumentNullException.ThrowIfNull(x);
        return Eager.Axis(axis, x.Rank, () => $"Np.{name}(x: {x.Aval}, axis: {axis}, reverse: {(reverse ? "true" : "false")})", [x.Aval]);
    }

    /// <summary>Runs a scan over every number dtype: bools as int32 (Cumsum and Cumprod count them) or back to bool, halves in float32.</summary>
    static Tensor Scan(Tensor x, int axis, bool reverse, string name, bool boolStaysBool,
        Func<double, double, double> f64, Func<float, float, float> f32, Func<int, int, int> i32, Func<long, long, long> i64)
    {
        int ax = CumAxis(x, axis, reverse, name);
        if (x.DType == DType.Bool)
        {
            var counted = Scan(Eager.To(x, DType.Int32), axis, reverse, name, boolStaysBool, f64, f32, i32, i64);
            return boolStaysBool ? Eager.To(counted, DType.Bool) : counted;
        }
        if (DTypes.IsHalf(x.DType)) return Eager.ViaFloat32(x.DType, a => Scan(a[0], axis, reverse, name, boolStaysBool, f64, f32, i32, i64), x);
        var (outer, n, inner) = AroundAxis(x.Dims, ax);
        var dims = (int[])x.Dims.Clone();
        return x.DType switch
        {
            DType.Float64 => Eager.Make(ScanAxis(x.Span<double>(), outer, n, inner, reverse, f64), dims, x.IsWeak),
            DType.Int32 => Eager.Make(ScanAxis(x.Span<int>(), outer, n, inner, reverse, i32), dims, x.IsWeak),
            DType.Int64 => Eager.Make(ScanAxis(x.Span<long>(), outer, n, inner, reverse, i64), dims, x.IsWeak),
            _ => Eager.Make(ScanAxis(Eager.Data<float>(x), outer, n, inner, reverse, f32), dims, x.IsWeak),
        };
    }

    /// <summary>
    /// The running sum along an axis (numpy's <c>cumsum</c>; from the end when <paramref name="reverse"/>): element i is
    /// <c>x[0] + ... + x[i]</c>. Integers sum exactly (wrapping as C# does); bools count (int32). Its transpose is the
    /// running sum the other way. Example: <c>Cumsum([1, 2, 3], 0)</c> is <c>[1., 3., 6.]</c>; with reverse, <c>[6., 5., 3.]</c>.
    /// </summary>
    /// <param name="x">The tensor (any dtype).</param><param name="axis">The axis (negative counts from the end).</param>
    /// <param name="reverse">Whether to accumulate from the last element towards the first.</param>
    /// <returns>A tensor of x's shape and dtype (int32 for bools).</returns>
    /// <exception cref="ShapeException">The axis is out of range.</exception>
    public static Tensor Cumsum(Tensor x, int axis, bool reverse = false) =>
        Scan(x, axis, reverse, "Cumsum", false, static (a, b) => a + b, static (a, b) => a + b, static (a, b) => unchecked(a + b), static (a, b) => unchecked(a + b));

    /// <summary>
    /// The running product along an axis (numpy's <c>cumprod</c>): element i is <c>x[0] · ... · x[i]</c>. Its derivative
    /// is exact where x has zeros (it is the linear recurrence <c>dy[i] = x[i] dy[i-1] + y[i-1] dx[i]</c>, with no
    /// division). Integers multiply exactly (wrapping); bools give int32.
    /// Example: <c>Cumprod([2, 0, 3], 0)</c> is <c>[2., 0., 0.]</c>.
    /// </summary>
    /// <param name="x">The tensor (any dtype).</param><param name="axis">The axis.</param>
    /// <param name="reverse">Whether to accumulate from the last element towards the first.</param>
    /// <returns>A tensor of x's shape and dtype (int32 for bools).</returns>
    /// <exception cref="ShapeException">The axis is out of range.</exception>
    public static Tensor Cumprod(Tensor x, int axis, bool reverse = false) =>
        Scan(x, axis, reverse, "Cumprod", false, static (a, b) => a * b, static (a, b) => a * b, static (a, b) => unchecked(a * b), static (a, b) => unchecked(a * b));

    /// <summary>
    /// The running maximum along an axis (numpy's <c>maximum.accumulate</c>, JAX's <c>cummax</c>); a NaN propagates to
    /// every later element. Its derivative sends each output's cotangent to the first position of its running maximum
    /// (the earliest of tied maxima). Example: <c>Cummax([1, 3, 2, 5], 0)</c> is <c>[1., 3., 3., 5.]</c>.
    /// </summary>
    /// <param name="x">The tensor (any dtype).</param><param name="axis">The axis.</param>
    /// <param name="reverse">Whether to accumulate from the last element towards the first.</param>
    /// <returns>A tensor of x's shape and dtype.</returns>
    /// <exception cref="ShapeException">The axis is out of range.</exception>
    public static Tensor Cummax(Tensor x, int axis, bool reverse = false) =>
        Scan(x, axis, reverse, "Cummax", true, NanMax, NanMax, Math.Max, Math.Max);

    /// <summary>
    /// The running <c>log Σ e^x</c> along an axis (JAX's <c>cumlogsumexp</c>), each step <c>log(e^a + e^b)</c> computed
    /// from the larger argument, so large arguments (1e3 in float32) do not overflow. Its derivative is a linear
    /// recurrence with coefficients in [0, 1]. Integers and bools give float32.
    /// Example: <c>CumLogSumExp([0, 0, 1000], 0)</c> is <c>[0., ln 2, 1000.]</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="axis">The axis.</param>
    /// <param name="reverse">Whether to accumulate from the last element towards the first.</param>
    /// <returns>A float tensor of x's shape.</returns>
    /// <exception cref="ShapeException">The axis is out of range.</exception>
    public static Tensor CumLogSumExp(Tensor x, int axis, bool reverse = false)
    {
        ArgumentNullException.ThrowIfNull(x);
        return Scan(Eager.FloatOperand(x), axis, reverse, "CumLogSumExp", false, LogAddExp, static (a, b) => (float)LogAddExp(a, b),
            static (_, _) => throw new InvalidOperationException("unreachable"), static (_, _) => throw new InvalidOperationException("unreachable"));
    }

    // ---------------------------------------------------------------- product

    static T[] ProdAxis<T>(ReadOnlySpan<T> x, int outer, int n, int inner) where T : unmanaged, INumber<T>
    {
        var r = new T[outer * inner];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                T acc = T.One;
                int start = o * n * inner + i;
                for (int s = 0; s < n; s++) acc = unchecked(acc * x[start + s * inner]);
                r[o * inner + i] = acc;
            }
        return r;
    }

    /// <summary>
    /// <c>Π x</c> over one axis, or over all when <paramref name="axis"/> is null (numpy's <c>prod</c>); 1 over an empty
    /// axis. Its derivative is exact where x has zeros: the derivative in x[j] is the product of the others (from the
    /// running products before and after j, no division), so with one zero only that position has a non-zero
    /// gradient, and with two or more the gradient is zero. Integers multiply exactly (wrapping); bools give int32.
    /// Example: <c>Prod([[1, 2], [3, 4]], 0, false)</c> is <c>[3., 8.]</c>.
    /// </summary>
    /// <param name="x">The tensor (any dtype).</param><param name="axis">The axis, or null for all.</param><param name="keepdims">Keep the reduced axis as size 1.</param>
    /// <returns>The product (int32 for bools).</returns>
    /// <exception cref="ShapeException">The axis is out of range.</exception>
    public static Tensor Prod(Tensor x, int? axis = null, bool keepdims = false)
    {
        ArgumentNullException.ThrowIfNull(x);
        string Call() => $"Np.Prod(x: {x.Aval}, axis: {(axis is null ? "null" : axis)}, keepdims: {(keepdims ? "true" : "false")})";
        int outer = 1, n = x.Size, inner = 1;
        int[] od;
        if (axis is int a0)
        {
            int ax = Eager.Axis(a0, x.Rank, Call, [x.Aval]);
            (outer, n, inner) = AroundAxis(x.Dims, ax);
            od = keepdims ? (int[])x.Dims.Clone() : Eager.Remove(x.Dims, ax);
            if (keepdims) od[ax] = 1;
        }
        else od = keepdims ? Enumerable.Repeat(1, x.Rank).ToArray() : [];
        if (x.DType == DType.Bool) x = Eager.To(x, DType.Int32);
        if (DTypes.IsHalf(x.DType)) return Eager.ViaFloat32(x.DType, a => Prod(a[0], axis, keepdims), x);
        return x.DType switch
        {
            DType.Float64 => Eager.Make(ProdAxis(x.Span<double>(), outer, n, inner), od, x.IsWeak),
            DType.Int32 => Eager.Make(ProdAxis(x.Span<int>(), outer, n, inner), od, x.IsWeak),
            DType.Int64 => Eager.Make(ProdAxis(x.Span<long>(), outer, n, inner), od, x.IsWeak),
            _ => Eager.Make(ProdAxis(Eager.Data<float>(x), outer, n, inner), od, x.IsWeak),
        };
    }

    /// <summary>
    /// The product over several axes (numpy's <c>prod(x, axis=(0, 2))</c>), one axis after another. Inside an
    /// expression, write the axes all non-negative or all negative unless keepdims is true.
    /// Example: <c>Prod(Full([2, 3], 2.0), Axes.Of(0, 1), false)</c> is <c>64</c>.
    /// </summary>
    /// <param name="x">The operand.</param><param name="axes">The axes to reduce, each once.</param>
    /// <param name="keepdims">Whether the reduced axes stay with size 1.</param><returns>The products.</returns>
    /// <exception cref="ShapeException">An axis out of range for x's rank, named twice, or no axes.</exception>
    public static Tensor Prod(Tensor x, Axes axes, bool keepdims) => EachAxis(x, axes, keepdims, "Prod", (t, a, k) => Prod(t, a, k));
}

public static partial class Lax
{
    static T[] RecurrenceAxis<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, int outer, int n, int inner, bool reverse) where T : unmanaged, INumber<T>
    {
        var r = new T[b.Length];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int start = o * n * inner + i;
                T h = T.Zero;
                for (int s = 0; s < n; s++)
                {
                    int at = start + (reverse ? n - 1 - s : s) * inner;
                    h = s == 0 ? b[at] : a[at] * h + b[at];
                    r[at] = h;
                }
            }
        return r;
    }

    /// <summary>
    /// The linear recurrence along an axis <c>h[0] = b[0]</c>, <c>h[i] = a[i] · h[i-1] + b[i]</c> (from the end when
    /// <paramref name="reverse"/>: <c>h[n-1] = b[n-1]</c>, <c>h[i] = a[i] · h[i+1] + b[i]</c>); <c>a</c> at the first
    /// position is not used. It is linear in b; its transpose in b is the recurrence the other way with a shifted by one,
    /// and its derivative in a is the recurrence again, so it differentiates to any order. The derivatives of Cumprod,
    /// Cummax and CumLogSumExp are written with it. a and b broadcast against each other.
    /// Example: <c>LinearRecurrence([9, 2, 3], [1, 1, 1], 0, false)</c> is <c>[1., 3., 10.]</c>.
    /// </summary>
    /// <param name="a">The coefficients.</param><param name="b">The inputs.</param><param name="axis">The axis.</param>
    /// <param name="reverse">Whether the recurrence runs from the last element.</param>
    /// <returns>h, of the broadcast shape and the promoted dtype (a float).</returns>
    /// <exception cref="ShapeException">a and b do not broadcast, or the axis is out of range.</exception>
    public static Tensor LinearRecurrence(Tensor a, Tensor b, int axis, bool reverse)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        string Call() => $"Lax.LinearRecurrence(a: {a.Aval}, b: {b.Aval}, axis: {axis}, reverse: {(reverse ? "true" : "false")})";
        var dims = Kernels.BroadcastShapes(a.Dims, b.Dims)
            ?? throw new ShapeException(Call(), [a.Aval, b.Aval], "a and b must broadcast against each other");
        int ax = Eager.Axis(axis, dims.Length, Call, [a.Aval, b.Aval]);
        var (dt, weak) = DTypes.Promote(a.DType, a.IsWeak, b.DType, b.IsWeak);
        if (!DTypes.IsFloat(dt)) dt = DType.Float32;
        if (DTypes.IsHalf(dt))
            return Eager.ViaFloat32(dt, x => LinearRecurrence(x[0], x[1], axis, reverse), Eager.To(a, dt), Eager.To(b, dt));
        var aa = Np.BroadcastTo(Eager.To(a, dt), dims);
        var bb = Np.BroadcastTo(Eager.To(b, dt), dims);
        int outer = Kernels.Product(dims, 0, ax), n = dims[ax], inner = Kernels.Product(dims, ax + 1);
        return dt == DType.Float64
            ? Eager.Make(RecurrenceAxis(Eager.Data<double>(aa), Eager.Data<double>(bb), outer, n, inner, reverse), dims, weak)
            : Eager.Make(RecurrenceAxis(Eager.Data<float>(aa), Eager.Data<float>(bb), outer, n, inner, reverse), dims, weak);
    }
}
