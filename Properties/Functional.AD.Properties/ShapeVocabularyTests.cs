using System.Linq.Expressions;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// The shape vocabulary (Flip, Roll, Repeat, Tile, Pad, Triu, Tril, Eye, Linspace) against oracles written here as list
/// operations on the lines of a matrix (numpy's definitions: reverse, rotate, repeat each, concatenate copies, mirror),
/// eagerly, read inside expressions (plain Compile and the Jit), with the dot test for their gradients (they are
/// linear: &lt;f(x), w&gt; = &lt;x, grad&lt;f(x), w&gt;&gt;), and the typed errors. Finite differences, Vmap, the dtypes
/// and Torch run from the spec lines (Specs.Shapes.cs).
/// </summary>
public class ShapeVocabularyTests
{
    static readonly Random Rng = new(17);

    static double[,] RandomMatrix(int r, int c)
    {
        var m = new double[r, c];
        for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) m[i, j] = Math.Round(Rng.NextDouble() * 20 - 10, 3);
        return m;
    }

    /// <summary>Applies a list operation to every line of <paramref name="m"/> along <paramref name="axis"/>.</summary>
    static double[,] AlongAxis(double[,] m, int axis, Func<List<double>, List<double>> op)
    {
        int r = m.GetLength(0), c = m.GetLength(1);
        var lines = new List<List<double>>();
        for (int k = 0; k < (axis == 0 ? c : r); k++)
            lines.Add(Enumerable.Range(0, axis == 0 ? r : c).Select(i => axis == 0 ? m[i, k] : m[k, i]).ToList());
        var outs = lines.Select(op).ToList();
        int len = outs[0].Count;
        var o = axis == 0 ? new double[len, c] : new double[r, len];
        for (int k = 0; k < outs.Count; k++)
            for (int i = 0; i < len; i++)
                if (axis == 0) o[i, k] = outs[k][i]; else o[k, i] = outs[k][i];
        return o;
    }

    // numpy's definitions as list operations
    static List<double> Reversed(List<double> l) { var r = new List<double>(l); r.Reverse(); return r; }
    static List<double> Rotated(List<double> l, int s)
    {
        int n = l.Count, k = ((s % n) + n) % n;
        return [.. l.Skip(n - k), .. l.Take(n - k)];
    }
    static List<double> EachRepeated(List<double> l, int r) => l.SelectMany(v => Enumerable.Repeat(v, r)).ToList();
    static List<double> Copies(List<double> l, int r) => Enumerable.Range(0, r).SelectMany(_ => l).ToList();
    static List<double> Padded(List<double> l, int b, int a, PadMode mode, double value)
    {
        var before = new List<double>(); var after = new List<double>();
        for (int i = 1; i <= b; i++) before.Insert(0, mode == PadMode.Constant ? value : mode == PadMode.Edge ? l[0] : l[i]);
        for (int i = 1; i <= a; i++) after.Add(mode == PadMode.Constant ? value : mode == PadMode.Edge ? l[^1] : l[^(i + 1)]);
        return [.. before, .. l, .. after];
    }

    static double[] Flat(double[,] m) => m.Cast<double>().ToArray();

    /// <summary>(name, the function on a float64 3x4 matrix, the oracle).</summary>
    public static IEnumerable<object[]> Cases => Table.Select(c => new object[] { c.Name });

    static readonly (string Name, Expression<Func<Tensor, Tensor>> F, Func<double[,], double[,]> Oracle)[] Table =
    [
        ("Flip(0)", x => Flip(x, 0), m => AlongAxis(m, 0, Reversed)),
        ("Flip(-1)", x => Flip(x, -1), m => AlongAxis(m, 1, Reversed)),
        ("Flip(both)", x => Flip(x, new[] { 0, 1 }), m => AlongAxis(AlongAxis(m, 0, Reversed), 1, Reversed)),
        ("Roll(1, 0)", x => Roll(x, 1, 0), m => AlongAxis(m, 0, l => Rotated(l, 1))),
        ("Roll(-5, 1)", x => Roll(x, -5, 1), m => AlongAxis(m, 1, l => Rotated(l, -5))),
        ("Roll(shifts, axes)", x => Roll(x, new[] { 2, 7 }, new[] { 0, -1 }), m => AlongAxis(AlongAxis(m, 0, l => Rotated(l, 2)), 1, l => Rotated(l, 7))),
        ("Repeat(2, 0)", x => Repeat(x, 2, 0), m => AlongAxis(m, 0, l => EachRepeated(l, 2))),
        ("Repeat(3, -1)", x => Repeat(x, 3, -1), m => AlongAxis(m, 1, l => EachRepeated(l, 3))),
        ("Repeat(0, 0)", x => Repeat(x, 0, 0), m => new double[0, m.GetLength(1)]),
        ("Tile([2, 3])", x => Tile(x, new[] { 2, 3 }), m => AlongAxis(AlongAxis(m, 0, l => Copies(l, 2)), 1, l => Copies(l, 3))),
        ("Tile([2])", x => Tile(x, new[] { 2 }), m => AlongAxis(m, 1, l => Copies(l, 2))),
        ("Pad", x => Pad(x, new[] { 1, 2, 0, 3 }), m => AlongAxis(AlongAxis(m, 0, l => Padded(l, 1, 2, PadMode.Constant, 0)), 1, l => Padded(l, 0, 3, PadMode.Constant, 0))),
        ("Pad(value)", x => Pad(x, new[] { 2, 0, 1, 1 }, -2.5), m => AlongAxis(AlongAxis(m, 0, l => Padded(l, 2, 0, PadMode.Constant, -2.5)), 1, l => Padded(l, 1, 1, PadMode.Constant, -2.5))),
        ("Pad(edge)", x => Pad(x, new[] { 3, 1, 2, 4 }, PadMode.Edge), m => AlongAxis(AlongAxis(m, 0, l => Padded(l, 3, 1, PadMode.Edge, 0)), 1, l => Padded(l, 2, 4, PadMode.Edge, 0))),
        ("Pad(reflect)", x => Pad(x, new[] { 2, 1, 3, 2 }, PadMode.Reflect), m => AlongAxis(AlongAxis(m, 0, l => Padded(l, 2, 1, PadMode.Reflect, 0)), 1, l => Padded(l, 3, 2, PadMode.Reflect, 0))),
        ("Triu", x => Triu(x), m => Masked(m, (i, j) => j >= i)),
        ("Triu(1)", x => Triu(x, 1), m => Masked(m, (i, j) => j >= i + 1)),
        ("Tril", x => Tril(x), m => Masked(m, (i, j) => j <= i)),
        ("Tril(-2)", x => Tril(x, -2), m => Masked(m, (i, j) => j <= i - 2)),
    ];

    static double[,] Masked(double[,] m, Func<int, int, bool> keep)
    {
        var o = (double[,])m.Clone();
        for (int i = 0; i < m.GetLength(0); i++) for (int j = 0; j < m.GetLength(1); j++) if (!keep(i, j)) o[i, j] = 0;
        return o;
    }

    static void Same(double[] want, int[] wantShape, Tensor got, string what)
    {
        Assert.True(wantShape.SequenceEqual(got.Shape.ToArray()), $"{what}: shape [{string.Join(", ", got.Shape)}], want [{string.Join(", ", wantShape)}]");
        Assert.Equal(want, got.ToDoubleArray());
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Values_equal_the_list_oracle_eagerly_inside_expressions_and_in_the_jit(string name)
    {
        var (_, f, oracle) = Table.Single(c => c.Name == name);
        var m = RandomMatrix(3, 4);
        var want = oracle(m);
        int[] shape = [want.GetLength(0), want.GetLength(1)];
        var x = new Tensor(m);
        Same(Flat(want), shape, f.Compile()(x), $"{name} eager");
        Same(Flat(want), shape, Ad.Jit(f)(x), $"{name} jit");
        // float32 and int32 keep their dtype and the same values
        var x32 = x.AsType(DType.Float32);
        var y32 = Ad.Jit(f)(x32);
        Assert.Equal(DType.Float32, y32.DType);
        Assert.Equal(Flat(oracle(ToMatrix(x32))), y32.ToDoubleArray());
        var xi = Round(x).AsType(DType.Int32);
        var yi = f.Compile()(xi);
        Assert.Equal(DType.Int32, yi.DType);
        // an integer tensor's fill is converted to its dtype (truncated), as numpy and JAX do
        Assert.Equal(Flat(oracle(ToMatrix(xi))).Select(Math.Truncate).ToArray(), yi.ToDoubleArray());
    }

    static double[,] ToMatrix(Tensor t)
    {
        var d = t.ToDoubleArray();
        var m = new double[t.Shape[0], t.Shape[1]];
        for (int i = 0; i < m.GetLength(0); i++) for (int j = 0; j < m.GetLength(1); j++) m[i, j] = d[i * m.GetLength(1) + j];
        return m;
    }

    /// <summary>
    /// Each function is linear (Pad(value) affine): &lt;f(x) - f(0), w&gt; = &lt;x, g&gt; with g the gradient of &lt;f(x), w&gt;
    /// (reverse mode, through AxisScatterAdd), eagerly and in the jit; and forward mode gives f(dx) - f(0) as the tangent.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void The_gradient_is_the_adjoint_dot_test_in_reverse_and_forward_mode(string name)
    {
        var (_, f, _) = Table.Single(c => c.Name == name);
        var x = new Tensor(RandomMatrix(3, 4));
        var zero = Np.Zeros([3, 4], DType.Float64);
        var fx = f.Compile()(x) - f.Compile()(zero);
        var w = new Tensor(RandomMatrix(fx.Shape[0], fx.Shape[1]));
        Expression<Func<Tensor, Tensor, Tensor>> loss = (v, ww) => Sum(f.Invoke(v) * ww, null, false);
        var g = loss.Grad().Compile()(x, w);
        var gJit = Ad.Jit(loss.Grad())(x, w);
        // the jit may add a position's contributions in another order
        Assert.Equal(g.ToDoubleArray(), gJit.ToDoubleArray(), (a, b) => Math.Abs(a - b) <= 1e-12 * Math.Max(1, Math.Abs(a)));
        double lhs = (double)Sum(fx * w, null, false), rhs = (double)Sum(x * g, null, false);
        Assert.True(Math.Abs(lhs - rhs) <= 1e-12 * Math.Max(1, Math.Abs(lhs)), $"{name}: <f(x), w> = {lhs:R}, <x, f^T w> = {rhs:R}");
        var (value, tangent) = Ad.Jvp(f).Compile()(zero, x);
        Assert.Equal(fx.ToDoubleArray(), tangent.ToDoubleArray());
        Assert.Equal(f.Compile()(zero).ToDoubleArray(), value.ToDoubleArray());
    }

    [Fact]
    public void A_gather_that_pads_a_non_zero_constant_is_affine_under_jit()
    {
        // the jit writes a small linear node as sums of operand elements; a non-zero fill is a constant term, not a sum
        var maps = new[] { new AxisMap(AxisMapKind.PadConstant, 0, 1, 2, 7.5) };
        Expression<Func<Tensor, Tensor>> f = x => Lax.AxisGather(x * 2.0, maps) + 1.0;
        var x = new Tensor(new[] { 1.0, -2.0, 3.0 });
        double[] want = [8.5, 3.0, -3.0, 7.0, 8.5, 8.5];
        Assert.Equal(want, f.Compile()(x).ToDoubleArray());
        Assert.Equal(want, f.Jit()(x).ToDoubleArray());
        // its derivative is the zero-fill gather's: the fill is a constant
        Expression<Func<Tensor, Tensor>> loss = x => Sum(Lax.AxisGather(x, maps) * Lax.AxisGather(x, maps), null, false);
        Assert.Equal(new[] { 2.0, -4.0, 6.0 }, Ad.Grad(loss).Jit()(x).ToDoubleArray());
        Assert.Equal(new[] { 2.0, -4.0, 6.0 }, Ad.Grad(loss).Compile()(x).ToDoubleArray());
    }

    [Fact]
    public void Vmap_maps_each_example_as_the_function_does()
    {
        foreach (var (name, f, oracle) in Table)
        {
            var xs = Enumerable.Range(0, 3).Select(_ => RandomMatrix(3, 4)).ToArray();
            var batch = Stack(xs.Select(m => new Tensor(m)).ToArray(), 0);
            var y = Ad.Jit(f.Vmap(new int?[] { 0 }))(batch);
            var want = xs.SelectMany(m => Flat(oracle(m))).ToArray();
            Assert.True(y.Shape[0] == 3, name);
            Assert.Equal(want, y.ToDoubleArray());
        }
    }

    [Fact]
    public void Bad_shapes_are_typed_errors_naming_the_call_and_shapes_eagerly_and_inside_expressions()
    {
        var x = new Tensor(RandomMatrix(3, 4));
        var v = new Tensor(new[] { 1.0, 2, 3 });
        void Names(Action a, params string[] parts)
        {
            var e = Assert.ThrowsAny<ShapeException>(a);
            foreach (var p in parts) Assert.Contains(p, e.Message);
        }
        Names(() => Flip(x, 2), "Np.Flip", "float64[3,4]", "axis 2 is out of range");
        Names(() => Roll(x, 1, -3), "Np.Roll", "float64[3,4]");
        Names(() => Repeat(v, 2, 1), "Np.Repeat", "float64[3]");
        Names(() => Tile(v, new[] { 2, 2 }), "Np.Tile", "float64[3]", "at most one per axis");
        Names(() => Pad(x, new[] { 1, 1 }), "Np.Pad", "float64[3,4]", "4 entries, not 2");
        Names(() => Pad(v, new[] { 3, 0 }, PadMode.Reflect), "Np.Pad", "float64[3]", "must be below the length");
        Names(() => Pad(Np.Zeros([0]), new[] { 1, 0 }, PadMode.Edge), "Np.Pad", "is empty");
        Names(() => Triu(v), "Np.Triu", "float64[3]", "rank 2 or more");
        Names(() => Tril(v, 1), "Np.Tril", "float64[3]");
        Assert.Throws<ArgumentException>(() => Roll(x, new[] { 1 }, new[] { 0, 1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => Repeat(x, -1, 0));
        // inside expressions: when the shapes are known (the jit's trace)
        Expression<Func<Tensor, Tensor>> flip = t => Flip(t, 2), triu = t => Triu(t), pad = t => Pad(t, new[] { 3, 0 }, PadMode.Reflect);
        Names(() => Ad.Jit(flip)(x), "Np.Flip", "axis 2");
        Names(() => Ad.Jit(triu)(v), "Np.Triu");
        Names(() => Ad.Jit(pad)(v), "Np.Pad", "must be below the length");
        Names(() => pad.Grad().Compile()(v), "Np.Pad");
    }

    /// <summary>
    /// ExpandDims, Squeeze, MoveAxis and SwapAxes against element-by-element index arithmetic on a [2, 3, 4] (a [1, 3, 1, 2]
    /// for Squeeze): values eagerly and in the jit, gradients by the dot test, and Vmap per example.
    /// </summary>
    [Fact]
    public void Axis_moves_equal_index_arithmetic_with_adjoint_gradients_and_vmap()
    {
        var data = Enumerable.Range(0, 24).Select(i => Math.Round(Rng.NextDouble() * 10 - 5, 3)).ToArray();
        double X(int i, int j, int k) => data[(i * 3 + j) * 4 + k];
        var x = new Tensor(data, [2, 3, 4]);
        var cases = new (string Name, Expression<Func<Tensor, Tensor>> F, int[] Shape, Func<int[], double> At)[]
        {
            ("ExpandDims(1)", t => ExpandDims(t, 1), [2, 1, 3, 4], o => X(o[0], o[2], o[3])),
            ("ExpandDims(-1)", t => ExpandDims(t, -1), [2, 3, 4, 1], o => X(o[0], o[1], o[2])),
            ("MoveAxis(0, -1)", t => MoveAxis(t, 0, -1), [3, 4, 2], o => X(o[2], o[0], o[1])),
            ("MoveAxis(2, 0)", t => MoveAxis(t, 2, 0), [4, 2, 3], o => X(o[1], o[2], o[0])),
            ("SwapAxes(0, 2)", t => SwapAxes(t, 0, 2), [4, 3, 2], o => X(o[2], o[1], o[0])),
            ("SwapAxes(-1, 1)", t => SwapAxes(t, -1, 1), [2, 4, 3], o => X(o[0], o[2], o[1])),
        };
        foreach (var (name, f, shape, at) in cases)
        {
            var want = new double[shape.Aggregate(1, (a, b) => a * b)];
            var idx = new int[shape.Length];
            for (int flat = 0; flat < want.Length; flat++)
            {
                for (int d = shape.Length - 1, r = flat; d >= 0; d--) { idx[d] = r % shape[d]; r /= shape[d]; }
                want[flat] = at(idx);
            }
            foreach (var y in new[] { f.Compile()(x), Ad.Jit(f)(x) })
            {
                Assert.True(shape.SequenceEqual(y.Shape.ToArray()), name);
                Assert.Equal(want, y.ToDoubleArray());
            }
            var w = new Tensor(Enumerable.Range(0, want.Length).Select(i => Math.Cos(i + 0.5)).ToArray(), shape);
            Expression<Func<Tensor, Tensor, Tensor>> loss = (v, ww) => Sum(f.Invoke(v) * ww, null, false);
            var g = Ad.Jit(loss.Grad())(x, w);
            Assert.Equal(new[] { 2, 3, 4 }, g.Shape.ToArray());
            double lhs = want.Zip(w.ToDoubleArray(), (a, b) => a * b).Sum(), rhs = data.Zip(g.ToDoubleArray(), (a, b) => a * b).Sum();
            Assert.True(Math.Abs(lhs - rhs) <= 1e-12 * Math.Max(1, Math.Abs(lhs)), $"{name}: dot test {lhs:R} vs {rhs:R}");
            // Vmap over a leading batch of two: each example as the function maps it
            var batch = Stack([x, x * 2.0], 0);
            var yb = Ad.Jit(f.Vmap(new int?[] { 0 }))(batch);
            Assert.Equal(want.Concat(want.Select(v => v * 2)).ToArray(), yb.ToDoubleArray());
        }
        // Squeeze: every size-1 axis, or the named ones; under Vmap a batch of one is not squeezed away
        var s = new Tensor(data.Take(6).ToArray(), [1, 3, 1, 2]);
        Expression<Func<Tensor, Tensor>> all = t => Squeeze(t), named = t => Squeeze(t, new[] { 0, -2 }), first = t => Squeeze(t, new[] { 0 });
        Assert.Equal(new[] { 3, 2 }, Ad.Jit(all)(s).Shape.ToArray());
        Assert.Equal(new[] { 3, 2 }, named.Compile()(s).Shape.ToArray());
        Assert.Equal(new[] { 3, 1, 2 }, Ad.Jit(first)(s).Shape.ToArray());
        Assert.Equal(data.Take(6).ToArray(), Ad.Jit(all)(s).ToDoubleArray());
        var one = Stack([s], 0);
        Assert.Equal(new[] { 1, 3, 2 }, Ad.Jit(all.Vmap(new int?[] { 0 }))(one).Shape.ToArray());
        Expression<Func<Tensor, Tensor>> sq = t => Sum(Squeeze(t) * Squeeze(t), null, false);
        Assert.Equal((s * 2.0).ToDoubleArray(), Ad.Jit(sq.Grad())(s).ToDoubleArray());
        Assert.Equal(new[] { 1, 3, 1, 2 }, Ad.Jit(sq.Grad())(s).Shape.ToArray());
        // typed errors naming the call and the shapes
        var e1 = Assert.ThrowsAny<ShapeException>(() => Squeeze(s, new[] { 1 }));
        Assert.Contains("Np.Squeeze", e1.Message); Assert.Contains("has size 3", e1.Message);
        var e2 = Assert.ThrowsAny<ShapeException>(() => ExpandDims(x, 4));
        Assert.Contains("Np.ExpandDims", e2.Message); Assert.Contains("float64[2,3,4]", e2.Message);
        var e3 = Assert.ThrowsAny<ShapeException>(() => MoveAxis(x, 0, 3));
        Assert.Contains("Np.MoveAxis", e3.Message);
        Expression<Func<Tensor, Tensor>> bad = t => SwapAxes(t, 0, 5);
        var e4 = Assert.ThrowsAny<ShapeException>(() => Ad.Jit(bad)(x));
        Assert.Contains("Np.SwapAxes", e4.Message);
    }

    [Fact]
    public void Eye_and_linspace_equal_their_definitions_and_are_constants_inside_expressions()
    {
        foreach (var (n, m, k) in new[] { (3, 3, 0), (2, 4, 1), (4, 2, -1), (3, 5, 7), (0, 2, 0) })
        {
            var e = Eye(n, m, k);
            Assert.Equal(DType.Float32, e.DType);
            Assert.Equal(new[] { n, m }, e.Shape.ToArray());
            var want = new double[n * m];
            for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) want[i * m + j] = j - i == k ? 1 : 0;
            Assert.Equal(want, e.ToDoubleArray());
        }
        Assert.Equal(DType.Float64, Eye(2, 2, 0, DType.Float64).DType);
        Assert.Equal(Eye(3, 3, 0).ToDoubleArray(), Eye(3).ToDoubleArray());
        foreach (var (a, b, num) in new[] { (0.0, 1.0, 5), (-3.0, 7.0, 11), (2.0, -1.0, 4), (1.0, 1.0, 1), (0.1, 0.7, 7) })
        {
            var l = Linspace(a, b, num, DType.Float64).ToDoubleArray();
            Assert.Equal(num, l.Length);
            for (int i = 0; i < num; i++) Assert.Equal(a + (b - a) * i / Math.Max(1, num - 1), l[i], 14);
            Assert.Equal(num > 1 ? b : a, l[^1]);
        }
        Assert.Empty(Linspace(0, 1, 0).ToDoubleArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => Linspace(0, 1, -1));
        // read as constants: the gradient of x * Eye is Eye's diagonal mask, of x * Linspace the grid
        Expression<Func<Tensor, Tensor>> f = x => Sum(x * Eye(3, 3, 0, DType.Float64) + x * Reshape(Linspace(0, 1, 3, DType.Float64), new[] { 1, 3 }), null, false);
        var g = Ad.Jit(f.Grad())(Np.Zeros([3, 3], DType.Float64)).ToDoubleArray();
        Assert.Equal(new[] { 1, 0.5, 1, 0, 1.5, 1, 0, 0.5, 2 }, g);
    }
}
