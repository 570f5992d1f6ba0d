using Functional.AD;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// Example-based tests of the eager tensor layer (Tensor, Np, Lax, Rng). Expected values come from
/// hand computation or from naive loops written here, never from the library's own output.
/// </summary>
public class EagerTests
{
    // ------------------------------------------------------------------ naive references

    private static int[] Strides(int[] d)
    {
        var s = new int[d.Length];
        for (int i = d.Length - 1, p = 1; i >= 0; i--) { s[i] = p; p *= d[i]; }
        return s;
    }

    private static int Prod(int[] d) => d.Aggregate(1, (a, b) => a * b);

    private static int[] Unravel(int flat, int[] d)
    {
        var idx = new int[d.Length];
        for (int i = d.Length - 1; i >= 0; i--) { idx[i] = d[i] == 0 ? 0 : flat % d[i]; flat = d[i] == 0 ? 0 : flat / d[i]; }
        return idx;
    }

    /// <summary>Flat index into a tensor of dims <paramref name="d"/> for an output multi-index (numpy broadcasting, right-aligned).</summary>
    private static int BIndex(int[] outIdx, int[] d)
    {
        int off = outIdx.Length - d.Length, flat = 0;
        for (int i = 0; i < d.Length; i++) flat = flat * d[i] + (d[i] == 1 ? 0 : outIdx[i + off]);
        return flat;
    }

    private static int[] BShape(int[] a, int[] b)
    {
        int r = Math.Max(a.Length, b.Length);
        var o = new int[r];
        for (int i = 0; i < r; i++)
        {
            int da = i - (r - a.Length) >= 0 ? a[i - (r - a.Length)] : 1;
            int db = i - (r - b.Length) >= 0 ? b[i - (r - b.Length)] : 1;
            o[i] = da == 1 ? db : da;
        }
        return o;
    }

    private static double[] NaiveBinary(Func<double, double, double> f, double[] a, int[] ad, double[] b, int[] bd, out int[] od)
    {
        od = BShape(ad, bd);
        var r = new double[Prod(od)];
        for (int i = 0; i < r.Length; i++)
        {
            var idx = Unravel(i, od);
            r[i] = f(a[BIndex(idx, ad)], b[BIndex(idx, bd)]);
        }
        return r;
    }

    private static Tensor Rand(int[] shape, DType dt, int seed, double lo = -2, double hi = 2)
    {
        var rng = new System.Random(seed);
        var v = new double[Prod(shape)];
        for (int i = 0; i < v.Length; i++) v[i] = lo + (hi - lo) * rng.NextDouble();
        return dt == DType.Float64 ? new Tensor(v, shape) : new Tensor(v.Select(x => (float)x).ToArray(), shape);
    }

    private static void Close(double[] expected, Tensor actual, double tol)
    {
        var a = actual.ToDoubleArray();
        Assert.Equal(expected.Length, a.Length);
        for (int i = 0; i < a.Length; i++)
        {
            double e = expected[i], x = a[i];
            if (double.IsNaN(e)) { Assert.True(double.IsNaN(x), $"element {i}: expected NaN, got {x}"); continue; }
            if (double.IsInfinity(e)) { Assert.Equal(e, x); continue; }
            Assert.True(Math.Abs(e - x) <= tol * (1 + Math.Abs(e)), $"element {i}: expected {e}, got {x}");
        }
    }

    private static double Tol(DType dt) => dt == DType.Float64 ? 1e-12 : 2e-6;

    private static double Inner(Tensor a, Tensor b)
    {
        Assert.Equal(a.Shape, b.Shape);
        var x = a.ToDoubleArray();
        var y = b.ToDoubleArray();
        double s = 0;
        for (int i = 0; i < x.Length; i++) s += x[i] * y[i];
        return s;
    }

    private static Tensor T(params double[] v) => new(v);

    // ------------------------------------------------------------------ construction and conversion

    [Fact]
    public void Constructors_give_shapes_and_dtypes()
    {
        var s = new Tensor(1.5);
        Assert.Equal(DType.Float32, s.DType);
        Assert.True(s.IsWeak);
        Assert.Equal(0, s.Rank);
        Assert.Equal(1, s.Size);

        var d = Tensor.Scalar(2.5, DType.Float64);
        Assert.False(d.IsWeak);
        Assert.Equal(DType.Float64, d.DType);
        Assert.Equal(2.5, (double)d);

        var m = new Tensor(new double[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        Assert.Equal(new[] { 2, 3 }, m.Shape);
        Assert.Equal(DType.Float64, m.DType);
        Assert.Equal(6.0, m.Item(1, 2));
        Assert.Equal(4.0, m.Item(-1, 0));

        var f3 = new Tensor(new float[2, 3, 4]);
        Assert.Equal(new[] { 2, 3, 4 }, f3.Shape);
        Assert.Equal(DType.Float32, f3.DType);

        var fv = new Tensor(new float[] { 1, 2 }, [2, 1]);
        Assert.Equal(new[] { 2, 1 }, fv.Shape);
        Assert.Equal(2.0, fv.Item(1, 0));

        var arr = new double[2, 1, 3, 2];
        arr[1, 0, 2, 1] = 7;
        var t4 = Tensor.FromArray(arr);
        Assert.Equal(new[] { 2, 1, 3, 2 }, t4.Shape);
        Assert.Equal(DType.Float64, t4.DType);
        Assert.Equal(7.0, t4.Item(1, 0, 2, 1));
        var t4f = Tensor.FromArray(arr, DType.Float32);
        Assert.Equal(DType.Float32, t4f.DType);
        var ints = Tensor.FromArray(new[,] { { 1, 2 }, { 3, 4 } });
        Assert.Equal(DType.Int32, ints.DType);
        Assert.Equal(3.0, ints.Item(1, 0));
        Assert.Equal(new[] { 1, 2, 3, 4 }, ints.ToArray<int>());
        Assert.Equal(DType.Int64, Tensor.FromArray(new long[] { 1L << 40 }).DType);
        Assert.Equal(1L << 40, Tensor.FromArray(new long[] { 1L << 40 }).ToArray<long>()[0]);
        Assert.Equal(DType.Bool, Tensor.FromArray(new[] { true, false }).DType);
        Assert.Equal(DType.Float16, Tensor.FromArray(new[] { (Half)1.5 }).DType);
        Assert.Equal(DType.Float32, Tensor.FromArray(new[,] { { 1, 2 } }, DType.Float32).DType);

        Assert.Throws<ArgumentException>(() => new Tensor(new float[] { 1, 2, 3 }, [2, 2]));
    }

    [Fact]
    public void Constructors_copy_and_outputs_are_fresh()
    {
        var data = new double[] { 1, 2, 3 };
        var t = new Tensor(data);
        data[0] = 100;
        Assert.Equal(1.0, t.Item(0));
        var copy = t.ToDoubleArray();
        copy[1] = 100;
        Assert.Equal(2.0, t.Item(1));
        var u = t + 1.0;
        Assert.Equal(new double[] { 1, 2, 3 }, t.ToDoubleArray());
        Assert.Equal(new double[] { 2, 3, 4 }, u.ToDoubleArray());
    }

    [Fact]
    public void ToArray_has_matching_rank_and_type()
    {
        var m = new Tensor(new float[,] { { 1, 2 }, { 3, 4 } });
        var a = Assert.IsType<float[,]>(m.ToArray());
        Assert.Equal(3f, a[1, 0]);
        var d3 = Tensor.FromArray(new double[2, 2, 2]);
        Assert.IsType<double[,,]>(d3.ToArray());
        var s = Assert.IsType<double[]>(Tensor.Scalar(4, DType.Float64).ToArray());
        Assert.Equal(new double[] { 4 }, s);
        Assert.Equal(new float[] { 1, 2, 3, 4 }, m.ToFloatArray());
    }

    [Fact]
    public void Explicit_double_requires_rank_0()
    {
        Assert.Equal(0.1, (double)new Tensor(0.1)); // the weak scalar keeps its exact double
        var ex = Assert.Throws<ShapeException>(() => (double)new Tensor(new double[] { 1 }));
        Assert.Contains("float64[1]", ex.Message);
    }

    [Fact]
    public void Aval_equality_and_text()
    {
        var a = new Aval([3, 2], DType.Float32);
        var b = new Aval([3, 2], DType.Float32);
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, new Aval([2, 3], DType.Float32));
        Assert.NotEqual(a, new Aval([3, 2], DType.Float64));
        Assert.Equal("float32[3,2]", a.ToString());
        Assert.Equal("float64[]", Aval.ScalarDouble.ToString());
        Assert.Equal("float32[] weak", new Tensor(1.0).Aval.ToString());
        Assert.Equal(6, a.Size);
        Assert.Equal(2, a.Rank);
        Assert.Equal(Aval.ScalarFloat, Lax.AvalOf(1f));
        Assert.Equal(Aval.ScalarDouble, Lax.AvalOf(1.0));
        Assert.Equal(a, Lax.AvalOf(Np.Zeros([3, 2])));
    }

    // ------------------------------------------------------------------ dtype promotion and weak typing

    [Fact]
    public void Weak_scalars_take_the_other_dtype()
    {
        var f = new Tensor(new float[] { 1, 2 });
        var r = f * 2.0;
        Assert.Equal(DType.Float32, r.DType);
        Assert.False(r.IsWeak);
        Assert.Equal(new double[] { 2, 4 }, r.ToDoubleArray());

        var d = new Tensor(new double[] { 1, 2 });
        var rd = d + 0.1;
        Assert.Equal(DType.Float64, rd.DType);
        Assert.Equal(1.1, rd.Item(0)); // 0.1 promoted exactly, not via float32

        var ww = new Tensor(2.0) * new Tensor(3.0);
        Assert.True(ww.IsWeak);
        Assert.Equal(DType.Float32, ww.DType);
        Assert.Equal(6.0, (double)ww);

        var mixed = f + d;
        Assert.Equal(DType.Float64, mixed.DType);
        Assert.False(mixed.IsWeak);

        var weak64 = Lax.Zeros(new Aval([], DType.Float64, weak: true));
        Assert.Equal(DType.Float32, (f + weak64).DType);

        Assert.Equal((DType.Float64, false), DTypes.Promote(DType.Float32, false, DType.Float64, false));
        Assert.Equal((DType.Float32, false), DTypes.Promote(DType.Float32, false, DType.Float64, true));
        Assert.Equal((DType.Float32, true), DTypes.Promote(DType.Float32, true, DType.Float32, true));
    }

    [Fact]
    public void Masks_are_bool_tensors_compared_in_the_promoted_dtype()
    {
        var f = new Tensor(new float[] { 1, 2, 3 });
        var d = new Tensor(new double[] { 2, 2, 2 });
        var m = f < d;
        Assert.Equal(DType.Bool, m.DType);
        Assert.Equal(new[] { true, false, false }, m.ToArray<bool>());
        Assert.Equal(new double[] { 1, 0, 0 }, m.ToDoubleArray());
        // 0.1f < 0.1 in float64 (the float32 value is larger), as the promoted comparison says
        Assert.Equal(new[] { false }, (new Tensor(new float[] { 0.1f }) < new Tensor(new double[] { 0.1 })).ToArray<bool>());
        Assert.Equal(DType.Bool, (f > 1.5).DType);
        Assert.Equal(new double[] { 0, 1, 1 }, (f > 1.5).ToDoubleArray());
        Assert.Equal(new double[] { 1, 1, 0 }, (f <= 2.0).ToDoubleArray());
        Assert.Equal(new double[] { 0, 1, 1 }, (f >= 2.0).ToDoubleArray());
        Assert.Equal(new double[] { 1, 1, 0 }, (2.5 > f).ToDoubleArray());
        Assert.Equal(new double[] { 0, 1, 0 }, Equal(f, d).ToDoubleArray());
        Assert.Equal(new double[] { 0, 0 }, Equal(T(double.NaN, 1), T(double.NaN, 2)).ToDoubleArray());
    }

    // ------------------------------------------------------------------ broadcasting binary operations

    public static IEnumerable<object[]> BroadcastPairs()
    {
        int[][][] pairs =
        [
            [[], []], [[], [3]], [[3], []], [[2, 3], [3]], [[2, 1], [1, 3]], [[4, 1, 3], [2, 1]],
            [[1], [5]], [[2, 3], [2, 3]], [[3, 1], [3, 20]], [[5, 1, 16], [1, 4, 16]], [[16], [3, 16]],
            [[3, 16], [3, 1]], [[2, 1, 1], [1, 3, 9]], [[1, 1], [1, 1]], [[0, 3], [3]], [[4, 1], [0]],
            [[2, 3, 4], [2, 1, 4]], [[7, 9], [1]],
        ];
        foreach (var p in pairs)
            foreach (var dt in new[] { DType.Float32, DType.Float64 })
                yield return [p[0], p[1], dt];
    }

    private static readonly (string Name, Func<Tensor, Tensor, Tensor> Op, Func<double, double, double> Ref)[] BinaryOps =
    [
        ("Add", Add, (x, y) => x + y),
        ("Sub", Sub, (x, y) => x - y),
        ("Mul", Mul, (x, y) => x * y),
        ("Div", Div, (x, y) => x / y),
        ("Maximum", Maximum, Math.Max),
        ("Minimum", Minimum, Math.Min),
        ("Pow", (a, b) => Pow(Abs(a), b), (x, y) => Math.Pow(Math.Abs(x), y)),
        ("Greater", Greater, (x, y) => x > y ? 1 : 0),
        ("Less", Less, (x, y) => x < y ? 1 : 0),
        ("GreaterEqual", GreaterEqual, (x, y) => x >= y ? 1 : 0),
        ("LessEqual", LessEqual, (x, y) => x <= y ? 1 : 0),
        ("Equal", Equal, (x, y) => x == y ? 1 : 0),
        ("operator+", (a, b) => a + b, (x, y) => x + y),
        ("operator*", (a, b) => a * b, (x, y) => x * y),
        ("operator/", (a, b) => a / b, (x, y) => x / y),
    ];

    [Theory]
    [MemberData(nameof(BroadcastPairs))]
    public void Binary_ops_broadcast_like_a_naive_loop(int[] sa, int[] sb, DType dt)
    {
        var a = Rand(sa, dt, 1);
        var b = Rand(sb, dt, 2);
        var ad = a.ToDoubleArray();
        var bd = b.ToDoubleArray();
        if (bd.Length > 1) bd[0] = ad.Length > 0 ? ad[0] : bd[0]; // make Equal see a hit now and then
        b = dt == DType.Float64 ? new Tensor(bd, sb) : new Tensor(bd.Select(x => (float)x).ToArray(), sb);
        foreach (var (name, op, rf) in BinaryOps)
        {
            var r = op(a, b);
            var e = NaiveBinary(rf, ad, sa, bd, sb, out var od);
            Assert.True(od.SequenceEqual(r.Shape), $"{name}: shape {string.Join(",", r.Shape)} vs {string.Join(",", od)}");
            // comparisons give bool masks; arithmetic keeps the operands' dtype
            bool comparison = name is "Greater" or "Less" or "GreaterEqual" or "LessEqual" or "Equal" || name.StartsWith(">") || name.StartsWith("<") || name.StartsWith("==");
            Assert.Equal(comparison ? DType.Bool : dt, r.DType);
            Close(e, r, dt == DType.Float32 && name.StartsWith("Pow") ? 1e-5 : Tol(dt));
        }
    }

    [Fact]
    public void Incompatible_shapes_throw_ShapeException_naming_the_call()
    {
        var ex = Assert.Throws<ShapeException>(() => Np.Zeros([3, 2]) + Np.Zeros([3]));
        Assert.Contains("Np.Add", ex.Message);
        Assert.Contains("float32[3,2]", ex.Message);
        Assert.Contains("float32[3]", ex.Message);
        Assert.Contains("2 vs 3", ex.Message);
        Assert.Equal(2, ex.Shapes.Count);
        Assert.StartsWith("Np.Add(", ex.Operation);
        Assert.IsAssignableFrom<ArgumentException>(ex);
        var wrapped = ex.WithContext("in x + y");
        Assert.StartsWith("in x + y: Np.Add(", wrapped.Message);
        Assert.Same(ex, wrapped.InnerException);
        Assert.Equal(ex.Operation, wrapped.Operation);
    }

    [Fact]
    public void Operators_with_doubles_on_either_side()
    {
        var x = T(1, 2, 4);
        Assert.Equal(new double[] { 3, 4, 6 }, (2.0 + x).ToDoubleArray());
        Assert.Equal(new double[] { 1, 0, -2 }, (2.0 - x).ToDoubleArray());
        Assert.Equal(new double[] { -1, 0, 2 }, (x - 2.0).ToDoubleArray());
        Assert.Equal(new double[] { 2, 1, 0.5 }, (2.0 / x).ToDoubleArray());
        Assert.Equal(new double[] { 0.5, 1, 2 }, (x / 2.0).ToDoubleArray());
        Assert.Equal(new double[] { 3, 6, 12 }, (3.0 * x).ToDoubleArray());
        Assert.Equal(new double[] { -1, -2, -4 }, (-x).ToDoubleArray());
        Assert.Equal(new double[] { 1, 0, 0 }, (x < 2.0).ToDoubleArray());
        Assert.Equal(new double[] { 1, 1, 0 }, (3.0 > x).ToDoubleArray());
        Tensor implicitScalar = 2.5;
        Assert.True(implicitScalar.IsWeak);
    }

    // ------------------------------------------------------------------ unary operations

    public static IEnumerable<object[]> DTypesData() => [[DType.Float32], [DType.Float64]];

    [Theory]
    [MemberData(nameof(DTypesData))]
    public void Unary_ops_match_Math(DType dt)
    {
        var x = Rand([3, 17], dt, 5, -3, 3);
        var xv = x.ToDoubleArray();
        var pos = Rand([40], dt, 6, 0.01, 5);
        var pv = pos.ToDoubleArray();
        double tol = dt == DType.Float64 ? 1e-14 : 3e-6;
        Close(xv.Select(v => -v).ToArray(), Neg(x), tol);
        Close(xv.Select(Math.Exp).ToArray(), Exp(x), tol);
        Close(pv.Select(v => Math.Log(v)).ToArray(), Log(pos), tol);
        Close(xv.Select(Math.Tanh).ToArray(), Tanh(x), tol);
        Close(xv.Select(v => 1 / (1 + Math.Exp(-v))).ToArray(), Sigmoid(x), tol);
        Close(xv.Select(v => Math.Log(1 + Math.Exp(v))).ToArray(), Softplus(x), tol);
        Close(xv.Select(v => Math.Max(v, 0)).ToArray(), Relu(x), tol);
        Close(xv.Select(Math.Sin).ToArray(), Sin(x), tol);
        Close(xv.Select(Math.Cos).ToArray(), Cos(x), tol);
        Close(pv.Select(Math.Sqrt).ToArray(), Sqrt(pos), tol);
        Close(xv.Select(v => Math.Abs(v)).ToArray(), Abs(x), tol);
        Close(xv.Select(v => (double)Math.Sign(v)).ToArray(), Sign(x), 0);
        foreach (var r in new[] { Neg(x), Exp(x), Tanh(x), Sign(x) }) Assert.Equal(dt, r.DType);
    }

    [Fact]
    public void Unary_ops_edge_cases()
    {
        var sp = Softplus(T(1000, -1000, 0, -40, 40));
        Assert.Equal(1000, sp.Item(0));
        Assert.Equal(0, sp.Item(1));
        Assert.Equal(Math.Log(2), sp.Item(2), 15);
        Assert.Equal(Math.Exp(-40), sp.Item(3), 1e-30); // log1p accuracy for tiny exp(-|x|)
        Assert.True(Math.Abs(sp.Item(3) / Math.Exp(-40) - 1) < 1e-12);
        Assert.Equal(40 + Math.Exp(-40), sp.Item(4), 12);
        Assert.True(double.IsNaN(Softplus(T(double.NaN)).Item(0)));
        var s = Sign(T(double.NaN, -0.0, 0, -5, 5));
        Assert.True(double.IsNaN(s.Item(0)));
        Assert.Equal(0, s.Item(1));
        Assert.Equal(new double[] { -1, 1 }, s.ToDoubleArray()[3..]);
        Assert.True(double.IsNaN(Relu(T(double.NaN)).Item(0)));
        Assert.Equal(new double[] { 0, 1 }, Sigmoid(T(-1000, 1000)).ToDoubleArray());
        Assert.True(new Tensor(2.0) is var w && Exp(w).IsWeak);
        Assert.True(double.IsNegativeInfinity(Log(T(0)).Item(0)));
        Assert.True(double.IsNaN(Maximum(T(double.NaN), T(1)).Item(0)));
    }

    // ------------------------------------------------------------------ creation

    [Fact]
    public void Creation_functions()
    {
        Assert.Equal(new double[] { 0, 0, 0, 0, 0, 0 }, Np.Zeros([2, 3]).ToDoubleArray());
        Assert.Equal(new[] { 2, 3 }, Np.Ones([2, 3]).Shape);
        Assert.Equal(DType.Float64, Np.Ones([1], DType.Float64).DType);
        Assert.Equal(new double[] { 7, 7 }, Full([2], 7).ToDoubleArray());
        Assert.Equal(new double[] { 0, 1, 2 }, Arange(3).ToDoubleArray());
        Assert.Equal(DType.Float32, Arange(3).DType);
        Assert.Equal(new double[] { 1, 1.25, 1.5, 1.75 }, Arange(1, 2, 0.25, DType.Float64).ToDoubleArray());
        Assert.Equal(new double[] { 5, 3 }, Arange(5, 1, -2).ToDoubleArray());
        Assert.Empty(Arange(3, 1).ToDoubleArray());
        var w = new Tensor(3.0);
        Assert.True(ZerosLike(w).IsWeak);
        Assert.Equal(1.0, (double)OnesLike(w));
        var d = Tensor.Scalar(1, DType.Float64);
        Assert.Equal(DType.Float64, ZerosLike(d).DType);
        Assert.Equal(new[] { 2, 3 }, OnesLike(Np.Zeros([2, 3])).Shape);
        Assert.Throws<ArgumentException>(() => Arange(0, 1, 0));
    }

    // ------------------------------------------------------------------ Dot and MatMul

    private static double[] NaiveMatMul(double[] a, int m, int k, double[] b, int n)
    {
        var r = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
                r[i * n + j] = s;
            }
        return r;
    }

    [Theory]
    [MemberData(nameof(DTypesData))]
    public void Dot_covers_vectors_and_matrices(DType dt)
    {
        foreach (var (m, k, n) in new[] { (3, 4, 5), (1, 1, 1), (7, 20, 3), (2, 33, 17), (5, 0, 2) })
        {
            var A = Rand([m, k], dt, 10 + k);
            var B = Rand([k, n], dt, 20 + n);
            var v = Rand([k], dt, 30 + k);
            var u = Rand([k], dt, 40 + k);
            var ad = A.ToDoubleArray();
            var bd = B.ToDoubleArray();
            var vd = v.ToDoubleArray();
            double tol = dt == DType.Float64 ? 1e-12 : 1e-5;
            var mm = Dot(A, B);
            Assert.Equal(new[] { m, n }, mm.Shape);
            Close(NaiveMatMul(ad, m, k, bd, n), mm, tol);
            var mv = Dot(A, v);
            Assert.Equal(new[] { m }, mv.Shape);
            Close(NaiveMatMul(ad, m, k, vd, 1), mv, tol);
            var vm = Dot(v, B);
            Assert.Equal(new[] { n }, vm.Shape);
            Close(NaiveMatMul(vd, 1, k, bd, n), vm, tol);
            var vv = Dot(v, u);
            Assert.Equal(0, vv.Rank);
            Close(NaiveMatMul(vd, 1, k, u.ToDoubleArray(), 1), vv, tol);
            Assert.Equal(dt, vv.DType);
        }
        Assert.Equal(DType.Float64, Dot(Np.Ones([2], DType.Float32), Np.Ones([2], DType.Float64)).DType);
    }

    [Fact]
    public void Dot_shape_errors_name_the_shapes()
    {
        var ex = Assert.Throws<ShapeException>(() => Dot(Np.Zeros([3, 2]), Np.Zeros([3])));
        Assert.Contains("Dot", ex.Message);
        Assert.Contains("3,2", ex.Message);
        Assert.Contains("[3]", ex.Message);
        Assert.Contains("2 vs 3", ex.Message);
        Assert.Equal("Np.Dot(a: float32[3,2], b: float32[3])", ex.Operation);
        Assert.Equal(new Aval([3, 2], DType.Float32), ex.Shapes[0]);
        var ex3 = Assert.Throws<ShapeException>(() => Dot(Np.Zeros([2, 2, 2]), Np.Zeros([2])));
        Assert.Contains("MatMul", ex3.Message);
        Assert.Contains("*", ex3.Message);
        Assert.Throws<ShapeException>(() => Dot(new Tensor(2.0), Np.Zeros([2])));
    }

    [Theory]
    [MemberData(nameof(DTypesData))]
    public void MatMul_broadcasts_batches_and_promotes_vectors(DType dt)
    {
        int[][][] cases =
        [
            [[2, 3], [3, 4]], [[5, 2, 3], [3, 4]], [[2, 3], [5, 3, 4]], [[2, 1, 2, 3], [4, 3, 2]],
            [[3], [3, 4]], [[2, 3], [3]], [[3], [3]], [[6, 2, 3], [3]], [[3], [6, 3, 2]], [[2, 10, 12], [2, 12, 3]],
        ];
        double tol = dt == DType.Float64 ? 1e-12 : 1e-5;
        foreach (var c in cases)
        {
            int[] sa = c[0], sb = c[1];
            var a = Rand(sa, dt, sa.Sum());
            var b = Rand(sb, dt, 100 + sb.Sum());
            int[] pa = sa.Length == 1 ? [1, sa[0]] : sa;
            int[] pb = sb.Length == 1 ? [sb[0], 1] : sb;
            int m = pa[^2], k = pa[^1], n = pb[^1];
            var batch = BShape(pa[..^2], pb[..^2]);
            var outShape = batch.Concat(sa.Length > 1 ? new[] { m } : []).Concat(sb.Length > 1 ? new[] { n } : []).ToArray();
            var r = MatMul(a, b);
            Assert.Equal(outShape, r.Shape);
            var ad = a.ToDoubleArray();
            var bd = b.ToDoubleArray();
            var expected = new List<double>();
            for (int t = 0; t < Prod(batch); t++)
            {
                var bi = Unravel(t, batch);
                int ao = BIndex(bi, pa[..^2]) * m * k, bo = BIndex(bi, pb[..^2]) * k * n;
                expected.AddRange(NaiveMatMul(ad[ao..(ao + m * k)], m, k, bd[bo..(bo + k * n)], n));
            }
            Close(expected.ToArray(), r, tol);
        }
        Assert.Throws<ShapeException>(() => MatMul(Np.Zeros([2, 3]), Np.Zeros([4, 2])));
        Assert.Throws<ShapeException>(() => MatMul(Np.Zeros([2, 2, 3]), Np.Zeros([3, 3, 2])));
        Assert.Throws<ShapeException>(() => MatMul(new Tensor(1.0), Np.Zeros([3])));
    }

    // ------------------------------------------------------------------ shape operations

    [Theory]
    [MemberData(nameof(DTypesData))]
    public void Transpose_permutes_axes(DType dt)
    {
        foreach (var (shape, axes) in new (int[], int[]?)[]
                 {
                     ([2, 3], null), ([70, 45], null), ([2, 3, 4], [1, 0, 2]), ([2, 3, 4], [2, 0, 1]), ([2, 3, 4], null),
                     ([3, 40, 50], [0, 2, 1]), ([2, 3, 4, 5], [3, 1, 0, 2]), ([5], null), ([2, 1, 3], [2, 1, 0]), ([4, 5], [-1, -2]),
                 })
        {
            var x = Rand(shape, dt, Prod(shape));
            var xd = x.ToDoubleArray();
            var perm = axes?.Select(a => a < 0 ? a + shape.Length : a).ToArray() ?? Enumerable.Range(0, shape.Length).Reverse().ToArray();
            var od = perm.Select(p => shape[p]).ToArray();
            var r = Transpose(x, axes);
            Assert.Equal(od, r.Shape);
            var xs = Strides(shape);
            var e = new double[xd.Length];
            for (int i = 0; i < e.Length; i++)
            {
                var oi = Unravel(i, od);
                int flat = 0;
                for (int q = 0; q < perm.Length; q++) flat += oi[q] * xs[perm[q]];
                e[i] = xd[flat];
            }
            Close(e, r, 0);
        }
        Assert.Throws<ShapeException>(() => Transpose(Np.Zeros([2, 3]), [0, 0]));
        Assert.Throws<ShapeException>(() => Transpose(Np.Zeros([2, 3]), [0]));
    }

    [Fact]
    public void Reshape_and_BroadcastTo()
    {
        var x = Arange(6);
        var r = Reshape(x, [2, -1]);
        Assert.Equal(new[] { 2, 3 }, r.Shape);
        Assert.Equal(5.0, r.Item(1, 2));
        Assert.Equal(new[] { 6 }, Reshape(r, [-1]).Shape);
        Assert.Equal(0, Reshape(T(3), []).Rank);
        var ex = Assert.Throws<ShapeException>(() => Reshape(x, [4, -1]));
        Assert.Contains("Np.Reshape", ex.Message);
        Assert.Throws<ShapeException>(() => Reshape(x, [-1, -1]));
        Assert.Throws<ShapeException>(() => Reshape(x, [7]));

        var b = BroadcastTo(T(1, 2), [3, 2]);
        Assert.Equal(new double[] { 1, 2, 1, 2, 1, 2 }, b.ToDoubleArray());
        var c = BroadcastTo(new Tensor(new double[,] { { 1 }, { 2 } }), [2, 2, 3]);
        Assert.Equal(new double[] { 1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2 }, c.ToDoubleArray());
        Assert.Equal(new double[] { 5, 5 }, BroadcastTo(new Tensor(5.0), [2]).ToDoubleArray());
        Assert.Throws<ShapeException>(() => BroadcastTo(T(1, 2), [3]));
        Assert.Equal(new[] { 2, 3 }, Lax.BroadcastTo(T(1, 2, 3), new Aval([2, 3], DType.Float64)).Shape);
        Assert.Equal(new[] { 3, 1 }, Lax.ReshapeTo(T(1, 2, 3), new Aval([3, 1], DType.Float64)).Shape);
    }

    [Fact]
    public void Concatenate_and_Stack()
    {
        Assert.Equal(new double[] { 1, 2, 3 }, Concatenate([T(1, 2), T(3)]).ToDoubleArray());
        var a = new Tensor(new double[,] { { 1, 2 }, { 3, 4 } });
        var b = new Tensor(new double[,] { { 5 }, { 6 } });
        var c = Concatenate([a, b], axis: 1);
        Assert.Equal(new[] { 2, 3 }, c.Shape);
        Assert.Equal(new double[] { 1, 2, 5, 3, 4, 6 }, c.ToDoubleArray());
        var c0 = Concatenate([a, Transpose(b)], axis: -2);
        Assert.Equal(new double[] { 1, 2, 3, 4, 5, 6 }, c0.ToDoubleArray());
        Assert.Equal(DType.Float64, Concatenate([Np.Zeros([1]), T(1)]).DType);
        var ex = Assert.Throws<ShapeException>(() => Concatenate([a, b], axis: 0));
        Assert.Contains("Np.Concatenate", ex.Message);

        var s = Stack([T(1, 2), T(3, 4)]);
        Assert.Equal(new double[] { 1, 2, 3, 4 }, s.ToDoubleArray());
        var s1 = Stack([T(1, 2), T(3, 4)], axis: 1);
        Assert.Equal(new[] { 2, 2 }, s1.Shape);
        Assert.Equal(new double[] { 1, 3, 2, 4 }, s1.ToDoubleArray());
        var s3 = Stack([a, a * 10, a * 100], axis: -1);
        Assert.Equal(new[] { 2, 2, 3 }, s3.Shape);
        Assert.Equal(new double[] { 2, 20, 200 }, Enumerable.Range(0, 3).Select(i => s3.Item(0, 1, i)).ToArray());
        Assert.Equal(new[] { 2 }, Stack([new Tensor(1.0), new Tensor(2.0)]).Shape);
        Assert.Throws<ShapeException>(() => Stack([T(1), T(1, 2)]));
    }

    [Theory]
    [MemberData(nameof(DTypesData))]
    public void Take_gathers_with_numpy_indices(DType dt)
    {
        var x = dt == DType.Float64 ? T(10, 20, 30) : new Tensor(new float[] { 10, 20, 30 });
        var r = Take(x, T(2, 0, -1));
        Assert.Equal(new double[] { 30, 10, 30 }, r.ToDoubleArray());
        Assert.Equal(dt, r.DType);

        var m = Rand([3, 4, 5], dt, 9);
        var md = m.ToDoubleArray();
        var idx = new Tensor(new double[,] { { 0, 3 }, { -1, 1 }, { 2, 2 } });
        var g = Take(m, idx, axis: 1);
        Assert.Equal(new[] { 3, 3, 2, 5 }, g.Shape);
        int[][] iv = [[0, 3], [3, 1], [2, 2]];
        var e = new double[3 * 3 * 2 * 5];
        int q = 0;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                for (int l = 0; l < 2; l++)
                    for (int k = 0; k < 5; k++)
                        e[q++] = md[(i * 4 + iv[j][l]) * 5 + k];
        Close(e, g, 0);
        Assert.Equal(new[] { 3, 4 }, Take(m, new Tensor(2.0), axis: -1).Shape);

        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Take(x, T(3)));
        Assert.Contains("3", ex.Message);
        Assert.Contains("size 3", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Take(x, T(-4)));
        Assert.Throws<ArgumentException>(() => Take(x, T(0.5)));
    }

    [Fact]
    public void Where_selects_with_broadcasting()
    {
        var r = Where(T(1, 0), T(1, 2), T(10, 20));
        Assert.Equal(new double[] { 1, 20 }, r.ToDoubleArray());
        var cond = new Tensor(new float[,] { { 1 }, { 0 } });
        var w = Where(cond, T(1, 2, 3), new Tensor(-1.0));
        Assert.Equal(new[] { 2, 3 }, w.Shape);
        Assert.Equal(new double[] { 1, 2, 3, -1, -1, -1 }, w.ToDoubleArray());
        Assert.Equal(DType.Float64, w.DType);
        var f = Where(T(0, 1e-300), new Tensor(new float[] { 1, 2 }), new Tensor(new float[] { 3, 4 }));
        Assert.Equal(DType.Float32, f.DType);
        Assert.Equal(new double[] { 3, 2 }, f.ToDoubleArray()); // a tiny float64 condition still counts as non-zero
        Assert.Equal(1.0, Where(T(double.NaN), T(1), T(2)).Item(0));
        Assert.Throws<ShapeException>(() => Where(T(1, 0, 1), T(1, 2), T(3, 4)));
    }

    [Fact]
    public void OneHot_appends_an_axis()
    {
        var r = OneHot(T(2, 0), 3);
        Assert.Equal(new[] { 2, 3 }, r.Shape);
        Assert.Equal(new double[] { 0, 0, 1, 1, 0, 0 }, r.ToDoubleArray());
        Assert.Equal(DType.Float32, r.DType);
        var r2 = OneHot(new Tensor(new double[,] { { 1 }, { 5 } }), 2, DType.Float64);
        Assert.Equal(new[] { 2, 1, 2 }, r2.Shape);
        Assert.Equal(new double[] { 0, 1, 0, 0 }, r2.ToDoubleArray());
        Assert.Equal(DType.Float64, r2.DType);
        Assert.Equal(new double[] { 0, 1 }, OneHot(new Tensor(1.0), 2).ToDoubleArray());
    }

    // ------------------------------------------------------------------ reductions

    private static double[] NaiveReduce(double[] x, int[] shape, int axis, Func<IEnumerable<double>, double> f)
    {
        int outer = Prod(shape[..axis]), n = shape[axis], inner = Prod(shape[(axis + 1)..]);
        var r = new double[outer * inner];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
                r[o * inner + i] = f(Enumerable.Range(0, n).Select(k => x[(o * n + k) * inner + i]));
        return r;
    }

    [Theory]
    [MemberData(nameof(DTypesData))]
    public void Reductions_over_axes(DType dt)
    {
        var shape = new[] { 3, 4, 5 };
        var x = Rand(shape, dt, 77);
        var xd = x.ToDoubleArray();
        double tol = dt == DType.Float64 ? 1e-13 : 1e-5;
        for (int axis = -3; axis < 3; axis++)
        {
            int ax = axis < 0 ? axis + 3 : axis;
            var kept = (int[])shape.Clone();
            kept[ax] = 1;
            var dropped = shape.Where((_, i) => i != ax).ToArray();
            var s = Sum(x, axis);
            Assert.Equal(dropped, s.Shape);
            Close(NaiveReduce(xd, shape, ax, v => v.Sum()), s, tol);
            Assert.Equal(kept, Sum(x, axis, keepdims: true).Shape);
            Close(NaiveReduce(xd, shape, ax, v => v.Average()), Mean(x, axis), tol);
            Close(NaiveReduce(xd, shape, ax, v => v.Max()), Max(x, axis, keepdims: true), 0);
            Close(NaiveReduce(xd, shape, ax, v => { var l = v.ToList(); return l.IndexOf(l.Max()); }), Argmax(x, axis), 0);
        }
        Close([xd.Sum()], Sum(x), tol);
        Assert.Equal(0, Sum(x).Rank);
        Assert.Equal(new[] { 1, 1, 1 }, Mean(x, keepdims: true).Shape);
        Close([xd.Average()], Mean(x), tol);
        Close([xd.Max()], Max(x), 0);
        Close([Array.IndexOf(xd, xd.Max())], Argmax(x), 0);
        Assert.Equal(DType.Int32, Argmax(x).DType);
    }

    [Fact]
    public void Reduction_edge_cases()
    {
        Assert.True(double.IsNaN((double)Max(T(1, double.NaN, 3))));
        Assert.Equal(1.0, (double)Argmax(T(1, double.NaN, 3, double.NaN)));
        Assert.Equal(1.0, (double)Argmax(T(1, 7, 7)));
        Assert.Equal(0.0, (double)Sum(Np.Zeros([0])));
        Assert.Equal(new double[] { 0, 0, 0 }, Sum(Np.Zeros([0, 3]), 0).ToDoubleArray());
        var ex = Assert.Throws<ShapeException>(() => Max(Np.Zeros([0])));
        Assert.Contains("Np.Max", ex.Message);
        var ax = Assert.Throws<ShapeException>(() => Sum(Np.Zeros([2, 3]), 2));
        Assert.Contains("axis 2", ax.Message);
        Assert.True(Sum(new Tensor(2.0)).IsWeak);
        Assert.Equal(5.0, (double)Sum(new Tensor(5.0)));
    }

    [Theory]
    [MemberData(nameof(DTypesData))]
    public void LogSumExp_Softmax_LogSoftmax(DType dt)
    {
        var shape = new[] { 2, 3, 4 };
        var x = Rand(shape, dt, 3, -5, 5);
        var xd = x.ToDoubleArray();
        double tol = dt == DType.Float64 ? 1e-12 : 2e-5;
        Func<IEnumerable<double>, double> lse = v => Math.Log(v.Sum(Math.Exp));
        for (int axis = 0; axis < 3; axis++)
        {
            Close(NaiveReduce(xd, shape, axis, lse), LogSumExp(x, axis), tol);
            Assert.Equal(shape.Select((d, i) => i == axis ? 1 : d), LogSumExp(x, axis, keepdims: true).Shape);
        }
        Close([lse(xd)], LogSumExp(x), tol);
        var l = NaiveReduce(xd, shape, 2, lse);
        var sm = new double[xd.Length];
        for (int i = 0; i < xd.Length; i++) sm[i] = Math.Exp(xd[i] - l[i / 4]);
        Close(sm, Softmax(x), tol);
        Close(sm.Select(v => Math.Log(v)).ToArray(), LogSoftmax(x), tol);
        var sm0 = Softmax(x, axis: 0);
        Close(Enumerable.Repeat(1.0, 12).ToArray(), Sum(sm0, 0), tol);

        var big = T(1000, 1000);
        Assert.Equal(1000 + Math.Log(2), (double)LogSumExp(big), 10);
        Assert.Equal(new[] { 0.5, 0.5 }, Softmax(big).ToDoubleArray());
        Assert.Equal(-Math.Log(2), LogSoftmax(big).Item(0), 12);
        Assert.Equal(new[] { 0.25, 0.75 }, Softmax(T(0, Math.Log(3))).ToDoubleArray().Select(v => Math.Round(v, 12)));
        Assert.True(double.IsNegativeInfinity((double)LogSumExp(T(double.NegativeInfinity, double.NegativeInfinity))));
        Assert.True(double.IsPositiveInfinity((double)LogSumExp(T(double.PositiveInfinity, 1))));
        Assert.True(double.IsNegativeInfinity((double)LogSumExp(Np.Zeros([0]))));
    }

    // ------------------------------------------------------------------ small helpers

    [Fact]
    public void StopGradient_Let_Tuple()
    {
        var x = T(1, 2);
        Assert.Same(x, StopGradient(x));
        Assert.Equal(new double[] { 0, -3 }, Let(Mul(x, x), t => 1 - t).ToDoubleArray());
        var (a, b) = Np.Tuple(x, 3);
        Assert.Same(x, a);
        Assert.Equal(3, b);
        Assert.Equal((1, "a", 2.0), Np.Tuple(1, "a", 2.0));
    }

    [Fact]
    public void AllClose_semantics()
    {
        Assert.True(T(1, double.NaN).AllClose(T(1 + 1e-9, double.NaN)));
        Assert.False(T(1).AllClose(T(1.1)));
        Assert.True(T(1).AllClose(T(1.1), rtol: 0.2));
        Assert.False(T(1, 2).AllClose(Reshape(T(1, 2), [2, 1])));
        Assert.False(T(double.PositiveInfinity).AllClose(T(double.NegativeInfinity)));
        Assert.True(T(double.PositiveInfinity).AllClose(T(double.PositiveInfinity)));
        Assert.True(new Tensor(new float[] { 1 }).AllClose(T(1)));
        Assert.False(T(double.NaN).AllClose(T(1)));
    }

    // ------------------------------------------------------------------ printing

    [Fact]
    public void ToString_is_numpy_like()
    {
        Assert.Equal("Tensor([[1., 2.],\n        [3., 4.]], dtype=float32)", new Tensor(new float[,] { { 1, 2 }, { 3, 4 } }).ToString());
        Assert.Equal("Tensor(1.5, dtype=float64)", Tensor.Scalar(1.5, DType.Float64).ToString());
        Assert.Equal("Tensor(1.5, dtype=float32, weak_type=True)", new Tensor(1.5).ToString());
        Assert.Equal("Tensor([ 1.5 ,  2.25, -3.  ], dtype=float64)", T(1.5, 2.25, -3).ToString());
        Assert.Equal("Tensor([ 0.1,  0.2,  nan, -inf], dtype=float32)", new Tensor(new[] { 0.1f, 0.2f, float.NaN, float.NegativeInfinity }).ToString());
        Assert.Equal("Tensor([1.e-05, 1.e+00, 1.e+09], dtype=float64)", T(1e-5, 1, 1e9).ToString());
        Assert.Equal("Tensor([], shape=(0, 3), dtype=float32)", Np.Zeros([0, 3]).ToString());
        Assert.Equal("Tensor([], dtype=float32)", Np.Zeros([0]).ToString());
        var three = Reshape(Arange(8), [2, 2, 2]).ToString();
        Assert.Equal("Tensor([[[0., 1.],\n         [2., 3.]],\n\n        [[4., 5.],\n         [6., 7.]]], dtype=float32)", three);
        var big = Arange(2000).ToString();
        Assert.Contains("...", big);
        Assert.True(big.Length < 200);
        Assert.All(Reshape(Arange(60), [3, 20]).ToString().Split('\n'), line => Assert.True(line.Length <= 75, line));
    }

    // ------------------------------------------------------------------ Lax

    [Fact]
    public void SumTo_undoes_broadcasting()
    {
        var x = Np.Ones([2, 3]);
        var r = Lax.SumTo(x, new Aval([1, 3], DType.Float32));
        Assert.Equal(new[] { 1, 3 }, r.Shape);
        Assert.Equal(new double[] { 2, 2, 2 }, r.ToDoubleArray());
        Assert.Same(x, Lax.SumTo(x, new Aval([2, 3], DType.Float32)));
        Assert.Equal(6.0, (double)Lax.SumTo(x, Aval.ScalarFloat));
        var y = Rand([4, 2, 3, 5], DType.Float64, 8);
        var yd = y.ToDoubleArray();
        var s = Lax.SumTo(y, new Aval([2, 1, 5], DType.Float64));
        Assert.Equal(new[] { 2, 1, 5 }, s.Shape);
        var e = new double[10];
        for (int i = 0; i < yd.Length; i++)
        {
            var idx = Unravel(i, [4, 2, 3, 5]);
            e[idx[1] * 5 + idx[3]] += yd[i];
        }
        Close(e, s, 1e-13);
        Assert.Equal(DType.Float64, Lax.SumTo(x, new Aval([3], DType.Float64)).DType);   // a cotangent takes its primal's dtype
        Assert.Equal(DType.Float32, Lax.SumTo(x, new Aval([3], DType.Float64, weak: true)).DType);   // unless the primal is weak
        var ex = Assert.Throws<ShapeException>(() => Lax.SumTo(x, new Aval([2], DType.Float32)));
        Assert.Contains("Lax.SumTo", ex.Message);
        Assert.Contains("float32[2,3]", ex.Message);
    }

    [Fact]
    public void Zeros_Ones_casts_and_scalars()
    {
        var z = Lax.Zeros(new Aval([2], DType.Float64, weak: true));
        Assert.True(z.IsWeak);
        Assert.Equal(DType.Float64, z.DType);
        Assert.Equal(new double[] { 1, 1, 1 }, Lax.Ones(new Aval([3], DType.Float32)).ToDoubleArray());
        Assert.Equal(2.5, Lax.ToDouble(Tensor.Scalar(2.5, DType.Float64)));
        Assert.Equal(2.5f, Lax.ToFloat(new Tensor(2.5)));
        var ex = Assert.Throws<ShapeException>(() => Lax.ToDouble(T(1)));
        Assert.Contains("float64[1]", ex.Message);
        Assert.Throws<ShapeException>(() => Lax.ToFloat(Np.Zeros([1, 1])));
        Assert.True(Lax.FromDouble(1).IsWeak);
        var ff = Lax.FromFloat(1.5f);
        Assert.False(ff.IsWeak);
        Assert.Equal(DType.Float32, ff.DType);
        var c = Lax.Cast(T(0.1), DType.Float32);
        Assert.Equal(DType.Float32, c.DType);
        Assert.Equal((double)0.1f, c.Item(0));
        Assert.Equal(DType.Float64, T(1).AsType(DType.Float64).DType);
        var w = Lax.Cast(new Tensor(0.1), DType.Float64);
        Assert.False(w.IsWeak);
        Assert.Equal(0.1, (double)w);
    }

    [Fact]
    public void ExpandReduced_is_the_transpose_of_Sum()
    {
        var input = new Aval([2, 3, 4], DType.Float64);
        var x = Rand([2, 3, 4], DType.Float64, 50);
        foreach (int? axis in new int?[] { null, 0, 1, 2, -1 })
            foreach (var keep in new[] { false, true })
            {
                var sx = Sum(x, axis, keep);
                var g = Rand(sx.Shape.ToArray(), DType.Float64, 51);
                var ct = Lax.ExpandReduced(g, input, axis, keep);
                Assert.Equal(input.Shape, ct.Shape);
                Assert.Equal(Inner(g, sx), Inner(ct, x), 10);
                var mx = Mean(x, axis, keep);
                Assert.Equal(Inner(g, mx), Inner(Lax.ExpandReducedMean(g, input, axis, keep), x), 10);
            }
        var e = Lax.ExpandReduced(T(1, 2), new Aval([2, 3], DType.Float64), 1, false);
        Assert.Equal(new double[] { 1, 1, 1, 2, 2, 2 }, e.ToDoubleArray());
        Assert.Equal(new double[] { 0.5, 0.5 }, Lax.ExpandReducedMean(new Tensor(1.0), new Aval([2], DType.Float32), null, false).ToDoubleArray());
        Assert.Throws<ShapeException>(() => Lax.ExpandReduced(T(1, 2, 3), new Aval([2, 3], DType.Float64), 1, false));
    }

    [Fact]
    public void SumTo_is_the_transpose_of_BroadcastTo()
    {
        var target = new Aval([3, 1], DType.Float64);
        var y = Rand([3, 1], DType.Float64, 1);
        var x = Rand([2, 3, 4], DType.Float64, 2);
        Assert.Equal(Inner(x, BroadcastTo(y, [2, 3, 4])), Inner(Lax.SumTo(x, target), y), 10);
    }

    [Theory]
    [MemberData(nameof(DTypesData))]
    public void DotTA_DotTB_are_the_transposes_of_Dot(DType dt)
    {
        (int[] A, int[] B)[] cases = [([4], [4]), ([3, 4], [4]), ([4], [4, 5]), ([3, 4], [4, 5])];
        double tol = dt == DType.Float64 ? 1e-10 : 1e-4;
        foreach (var (sa, sb) in cases)
        {
            var a = Rand(sa, dt, 1);
            var b = Rand(sb, dt, 2);
            var y = Dot(a, b);
            var g = Rand(y.Shape.ToArray(), dt, 3);
            var ga = Lax.DotTA(g, b);
            var gb = Lax.DotTB(a, g);
            Assert.Equal(sa, ga.Shape);
            Assert.Equal(sb, gb.Shape);
            double gy = Inner(g, y);
            Assert.Equal(gy, Inner(ga, a), tol);
            Assert.Equal(gy, Inner(gb, b), tol);
        }
        // outer product by hand
        Assert.Equal(new double[] { 3, 4, 6, 8 }, Lax.DotTA(T(1, 2), T(3, 4)).ToDoubleArray());
        var ex = Assert.Throws<ShapeException>(() => Lax.DotTA(T(1, 2), Np.Zeros([3, 3, 3])));
        Assert.Contains("Lax.DotTA", ex.Message);
        Assert.Throws<ShapeException>(() => Lax.DotTB(Np.Zeros([2, 3]), Np.Zeros([3, 3])));
    }

    [Theory]
    [MemberData(nameof(DTypesData))]
    public void MatMulTA_MatMulTB_are_the_transposes_of_MatMul(DType dt)
    {
        int[][][] cases =
        [
            [[2, 3], [3, 4]], [[5, 2, 3], [3, 4]], [[2, 3], [5, 3, 4]], [[2, 1, 2, 3], [4, 3, 2]],
            [[3], [3, 4]], [[2, 3], [3]], [[3], [3]], [[6, 2, 3], [3]], [[3], [6, 3, 2]], [[1, 2, 3], [4, 3, 9]],
        ];
        double tol = dt == DType.Float64 ? 1e-10 : 1e-4;
        foreach (var c in cases)
        {
            var a = Rand(c[0], dt, 4);
            var b = Rand(c[1], dt, 5);
            var y = MatMul(a, b);
            var g = Rand(y.Shape.ToArray(), dt, 6);
            var ga = Lax.MatMulTA(g, b, a.Aval);
            var gb = Lax.MatMulTB(a, g, b.Aval);
            Assert.Equal(c[0], ga.Shape);
            Assert.Equal(c[1], gb.Shape);
            double gy = Inner(g, y);
            Assert.Equal(gy, Inner(ga, a), tol);
            Assert.Equal(gy, Inner(gb, b), tol);
        }
        Assert.Throws<ShapeException>(() => Lax.MatMulTA(Np.Zeros([2, 5]), Np.Zeros([3, 4]), new Aval([2, 3], DType.Float32)));
    }

    [Fact]
    public void ScatterAdd_is_the_transpose_of_Take()
    {
        Assert.Equal(new double[] { 4, 0, 2 }, Lax.ScatterAdd(T(1, 2, 3), T(0, 2, 0), 0, new Aval([3], DType.Float64)).ToDoubleArray());
        var x = Rand([3, 4, 2], DType.Float64, 11);
        var idx = new Tensor(new double[,] { { 0, 3, 3 }, { -1, 1, 0 } });
        foreach (var axis in new[] { 1, -2 })
        {
            var y = Take(x, idx, axis);
            var g = Rand(y.Shape.ToArray(), DType.Float64, 12);
            var ct = Lax.ScatterAdd(g, idx, axis, x.Aval);
            Assert.Equal(x.Shape, ct.Shape);
            Assert.Equal(Inner(g, y), Inner(ct, x), 10);
        }
        Assert.Throws<ShapeException>(() => Lax.ScatterAdd(T(1, 2), T(0, 1, 2), 0, new Aval([3], DType.Float64)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Lax.ScatterAdd(T(1), T(5), 0, new Aval([3], DType.Float64)));
    }

    [Fact]
    public void SplitPart_PadPart_are_transposes_and_invert_Concatenate()
    {
        var parts = new[] { Rand([2, 1, 3], DType.Float64, 1), Rand([2, 4, 3], DType.Float64, 2), Rand([2, 2, 3], DType.Float64, 3) };
        var avals = parts.Select(p => p.Aval).ToArray();
        var cat = Concatenate(parts, axis: 1);
        for (int i = 0; i < parts.Length; i++)
        {
            Assert.True(Lax.SplitPart(cat, 1, i, avals).AllClose(parts[i], 0, 0));
            var g = Rand(parts[i].Shape.ToArray(), DType.Float64, 20 + i);
            var y = Rand(cat.Shape.ToArray(), DType.Float64, 30 + i);
            var padded = Lax.PadPart(g, -2, i, avals);
            Assert.Equal(cat.Shape, padded.Shape);
            Assert.Equal(Inner(g, Lax.SplitPart(y, 1, i, avals)), Inner(padded, y), 10);
        }
        Assert.Equal(new double[] { 3 }, Lax.SplitPart(T(1, 2, 3), 0, 1, [new Aval([2], DType.Float64), new Aval([1], DType.Float64)]).ToDoubleArray());
        Assert.Equal(new double[] { 0, 0, 9 }, Lax.PadPart(T(9), 0, 1, [new Aval([2], DType.Float64), new Aval([1], DType.Float64)]).ToDoubleArray());
        Assert.Throws<ShapeException>(() => Lax.SplitPart(T(1, 2, 3), 0, 0, [new Aval([1], DType.Float64)]));
    }

    [Fact]
    public void StackPart_is_the_transpose_of_Unstack()
    {
        Assert.Equal(new double[] { 1, 3 }, Lax.Unstack(new Tensor(new double[,] { { 1, 2 }, { 3, 4 } }), 1, 0).ToDoubleArray());
        Assert.Equal(new double[] { 0, 5, 0, 6 }, Lax.StackPart(T(5, 6), 1, 1, 2).ToDoubleArray());
        var xs = Enumerable.Range(0, 3).Select(i => Rand([2, 4], DType.Float64, i)).ToArray();
        foreach (var axis in new[] { 0, 1, 2, -1 })
        {
            var st = Stack(xs, axis);
            for (int i = 0; i < 3; i++)
            {
                Assert.True(Lax.Unstack(st, axis, i).AllClose(xs[i], 0, 0));
                var g = Rand([2, 4], DType.Float64, 40 + i);
                var y = Rand(st.Shape.ToArray(), DType.Float64, 50 + i);
                var sp = Lax.StackPart(g, axis, i, 3);
                Assert.Equal(st.Shape, sp.Shape);
                Assert.Equal(Inner(g, Lax.Unstack(y, axis, i)), Inner(sp, y), 10);
            }
        }
        Assert.Throws<ShapeException>(() => Lax.Unstack(T(1, 2), 0, 2));
        Assert.Throws<ShapeException>(() => Lax.StackPart(T(1, 2), 0, 3, 3));
    }

    // ------------------------------------------------------------------ random numbers

    [Theory]
    [InlineData(DType.Float16)]
    [InlineData(DType.BFloat16)]
    public void Rng_in_halves_rounds_the_float64_samples_and_keeps_uniforms_below_high(DType t)
    {
        var k = PrngKey.Create(7);
        Assert.True(Rng.Normal(k, [1000], t).AsType(DType.Float64).AllClose(Rng.Normal(k, [1000], DType.Float64).AsType(t).AsType(DType.Float64), 0, 0));
        Assert.Equal(t, Rng.Normal(k, [3], t).DType);
        // [0.999, 1): most samples round up to 1 in a half; each must land on the largest half below 1 instead
        var u = Rng.Uniform(k, [1000], 0.999, 1.0, t).AsType(DType.Float64).ToArray<double>();
        Assert.All(u, v => Assert.True(v < 1.0, $"{v} is not below 1"));
        Assert.All(u, v => Assert.True(v >= 0.99, $"{v} is far below the range"));
        var w = Rng.Uniform(k, [1000], -3, 5, t).AsType(DType.Float64).ToArray<double>();
        Assert.All(w, v => Assert.True(v >= -3 && v < 5));
        Assert.True(w.Max() > 4 && w.Min() < -2, "the samples should spread over the range");
    }

    [Fact]
    public void Rng_is_reproducible_and_keys_split()
    {
        var k = PrngKey.Create(42);
        Assert.True(Rng.Normal(k, [100]).AllClose(Rng.Normal(PrngKey.Create(42), [100]), 0, 0));
        Assert.False(Rng.Normal(k, [100]).AllClose(Rng.Normal(PrngKey.Create(43), [100]), 0, 0));
        var (k1, k2) = k.Split();
        Assert.NotEqual(k1, k2);
        Assert.NotEqual(k, k1);
        Assert.Equal(new[] { k1, k2 }, k.Split(2));
        Assert.Equal(5, k.Split(5).Distinct().Count());
        Assert.False(Rng.Uniform(k1, [50]).AllClose(Rng.Uniform(k2, [50]), 0, 0));
        // element i depends only on the key and i: a prefix of a longer draw is the shorter draw
        Assert.Equal(Rng.Normal(k, [10], DType.Float64).ToDoubleArray()[..7], Rng.Normal(k, [7], DType.Float64).ToDoubleArray());
        Assert.Equal(DType.Float64, Rng.Uniform(k, [2], dtype: DType.Float64).DType);
        Assert.Equal(new[] { 3, 2 }, Rng.Normal(k, [3, 2]).Shape);
    }

    [Fact]
    public void Rng_moments_are_right()
    {
        int n = 200_000;
        var z = Rng.Normal(PrngKey.Create(7), [n], DType.Float64).ToDoubleArray();
        double mean = z.Average(), var = z.Select(v => (v - mean) * (v - mean)).Average();
        double skew = z.Select(v => Math.Pow(v - mean, 3)).Average(), kurt = z.Select(v => Math.Pow(v - mean, 4)).Average();
        Assert.InRange(mean, -0.01, 0.01);
        Assert.InRange(var, 0.98, 1.02);
        Assert.InRange(skew, -0.03, 0.03);
        Assert.InRange(kurt, 2.9, 3.1);
        Assert.InRange(z.Count(v => Math.Abs(v) < 1) / (double)n, 0.678, 0.687); // P(|Z|<1) = 0.6827

        var u = Rng.Uniform(PrngKey.Create(8), [n], -1, 3).ToDoubleArray();
        Assert.All(u, v => Assert.InRange(v, -1, 3 - 1e-7));
        Assert.InRange(u.Average(), 0.99, 1.01);
        Assert.InRange(u.Select(v => (v - 1) * (v - 1)).Average(), 16 / 12.0 * 0.98, 16 / 12.0 * 1.02);
        Assert.InRange(u.Count(v => v < 0) / (double)n, 0.247, 0.253);
    }

    [Fact]
    public void Rng_core_matches_references()
    {
        // SplitMix64 with state 0: the first output is 0xE220A8397B1DCDAF (Vigna's reference implementation)
        Assert.Equal(0xE220A8397B1DCDAFUL, RngCore.Mix(0x9E3779B97F4A7C15UL));
        var rng = new System.Random(3);
        for (int i = 0; i < 2000; i++)
        {
            double u = i switch { 0 => 1.0, 1 => 1.0 / (1UL << 53), 2 => double.Epsilon * 1e10, _ => rng.NextDouble() + 1e-300 };
            Assert.True(Math.Abs(RngCore.Log(u) - Math.Log(u)) <= 4e-16 * Math.Max(1, Math.Abs(Math.Log(u))), $"log {u}");
            double w = rng.NextDouble();
            var (s, c) = RngCore.SinCos2Pi(w);
            Assert.True(Math.Abs(s - Math.Sin(2 * Math.PI * w)) < 2e-15, $"sin {w}");
            Assert.True(Math.Abs(c - Math.Cos(2 * Math.PI * w)) < 2e-15, $"cos {w}");
        }
    }
}
