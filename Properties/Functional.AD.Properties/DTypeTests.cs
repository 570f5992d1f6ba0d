using System.Linq.Expressions;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// Integer, bool and half-precision tensors: JAX's promotion table (checked against the lattice it comes from and
/// against what every operation gives), C#'s integer semantics, the float32 computation of halves, and no gradient
/// for integers.
/// </summary>
public class DTypeTests
{
    // ------------------------------------------------------------------ promotion

    /// <summary>
    /// JAX's type lattice as its edges (jax._src.dtypes: b1 → i* → int32 → int64 → f* → {bf16, f16} → f32 → f64),
    /// written independently of the table: the table's entry for a pair must be the least upper bound of the two.
    /// </summary>
    static readonly Dictionary<string, string[]> Edges = new()
    {
        ["bool"] = ["i*"],
        ["i*"] = ["int32"],
        ["int32"] = ["int64"],
        ["int64"] = ["f*"],
        ["f*"] = ["bfloat16", "float16"],
        ["bfloat16"] = ["float32"],
        ["float16"] = ["float32"],
        ["float32"] = ["float64"],
        ["float64"] = [],
    };

    static HashSet<string> UpperBounds(string a)
    {
        var seen = new HashSet<string> { a };
        var stack = new Stack<string>([a]);
        while (stack.Count > 0)
            foreach (var b in Edges[stack.Pop()])
                if (seen.Add(b)) stack.Push(b);
        return seen;
    }

    static string Join(string a, string b)
    {
        var common = UpperBounds(a).Intersect(UpperBounds(b)).ToList();
        // the least: the common bound every other common bound is above
        return common.Single(c => common.All(d => UpperBounds(c).Contains(d)));
    }

    [Fact]
    public void The_promotion_table_is_the_join_of_JAX_lattice()
    {
        var names = DTypes.CatNames;
        for (int i = 0; i < names.Length; i++)
            for (int j = 0; j < names.Length; j++)
                Assert.True(Join(names[i], names[j]) == DTypes.PromotionTable[i][j],
                    $"{names[i]} with {names[j]}: the lattice gives {Join(names[i], names[j])}, the table {DTypes.PromotionTable[i][j]}");
    }

    [Fact]
    public void The_promotion_table_is_commutative_and_associative()
    {
        var names = DTypes.CatNames;
        int n = names.Length;
        int Ix(string s) => Array.IndexOf(names, s);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                Assert.Equal(DTypes.PromotionTable[i][j], DTypes.PromotionTable[j][i]);
                for (int k = 0; k < n; k++)
                    Assert.Equal(DTypes.PromotionTable[Ix(DTypes.PromotionTable[i][j])][k], DTypes.PromotionTable[i][Ix(DTypes.PromotionTable[j][k])]);
            }
    }

    /// <summary>An operand of each category of the table: a dtype and whether it is weak.</summary>
    static readonly (string Cat, DType DType, bool Weak)[] Operands =
    [
        ("bool", DType.Bool, false), ("i*", DType.Int32, true), ("int32", DType.Int32, false), ("int64", DType.Int64, false),
        ("f*", DType.Float32, true), ("bfloat16", DType.BFloat16, false), ("float16", DType.Float16, false),
        ("float32", DType.Float32, false), ("float64", DType.Float64, false),
    ];

    static (DType, bool) FromCat(string c, (DType D, bool W) a, (DType D, bool W) b) => c switch
    {
        "bool" => (DType.Bool, false),
        "i*" => (DType.Int32, true),
        "int32" => (DType.Int32, false),
        "int64" => (DType.Int64, false),
        "f*" => (DType.Float32, true),
        "bfloat16" => (DType.BFloat16, false),
        "float16" => (DType.Float16, false),
        "float32" => (DType.Float32, false),
        _ => (DType.Float64, false),
    };

    public static IEnumerable<object[]> Pairs =>
        from a in Enumerable.Range(0, Operands.Length) from b in Enumerable.Range(0, Operands.Length) select new object[] { a, b };

    /// <summary>
    /// Every pair of operand kinds gives the table's dtype and weak flag: through <c>Where</c> (which takes every dtype),
    /// through <c>+</c> (every pair but two bools, which arithmetic refuses), and the same under the jit.
    /// </summary>
    [Theory]
    [MemberData(nameof(Pairs))]
    public void Every_pair_promotes_as_the_table_says_eagerly_and_in_the_jit(int ia, int ib)
    {
        var (ca, da, wa) = Operands[ia];
        var (cb, db, wb) = Operands[ib];
        var a = Np.Full([2], 1, da) is var ta && wa ? Tensor.Scalar(1, da, weak: true) : ta;
        var b = Np.Full([2], 0, db) is var tb && wb ? Tensor.Scalar(0, db, weak: true) : tb;
        var want = FromCat(DTypes.PromotionTable[Array.IndexOf(DTypes.CatNames, ca)][Array.IndexOf(DTypes.CatNames, cb)], (da, wa), (db, wb));
        // a weak result is weak only when both operands are weak scalars; the rank-1 operand here makes it strong in
        // JAX too unless both are weak, which the table says
        var c = new Tensor(new[] { true, false });
        var w = Np.Where(c, a, b);
        Assert.Equal(want, (w.DType, w.IsWeak));
        Expression<Func<Tensor, Tensor, Tensor, Tensor>> where = (m, x, y) => Np.Where(m, x, y);
        var wj = Ad.Jit(where)(c, a, b);
        Assert.Equal(want, (wj.DType, wj.IsWeak));
        Assert.Equal(w.ToDoubleArray(), wj.ToDoubleArray());
        if (da == DType.Bool && db == DType.Bool)
        {
            var e = Assert.Throws<ShapeException>(() => a + b);
            Assert.Contains("bool", e.Message);
            return;
        }
        var s = a + b;
        Assert.Equal(want, (s.DType, s.IsWeak));
        Expression<Func<Tensor, Tensor, Tensor>> add = (x, y) => x + y;
        var sj = Ad.Jit(add)(a, b);
        Assert.Equal(want, (sj.DType, sj.IsWeak));
        Assert.Equal(s.ToDoubleArray(), sj.ToDoubleArray());
    }

    // ------------------------------------------------------------------ integers follow C#

    static readonly (string Name, Func<Tensor, Tensor, Tensor> Op, Func<int, int, int> Int, Func<long, long, long> Long)[] IntOps =
    [
        ("+", (a, b) => a + b, (x, y) => unchecked(x + y), (x, y) => unchecked(x + y)),
        ("-", (a, b) => a - b, (x, y) => unchecked(x - y), (x, y) => unchecked(x - y)),
        ("*", (a, b) => a * b, (x, y) => unchecked(x * y), (x, y) => unchecked(x * y)),
        ("/", (a, b) => a / b, (x, y) => x / y, (x, y) => x / y),
        ("%", (a, b) => a % b, (x, y) => x % y, (x, y) => x % y),
        ("Maximum", Maximum, Math.Max, Math.Max),
        ("Minimum", Minimum, Math.Min, Math.Min),
    ];

    static readonly Expression<Func<Tensor, Tensor, Tensor>>[] IntExprs =
    [
        (a, b) => a + b, (a, b) => a - b, (a, b) => a * b, (a, b) => a / b, (a, b) => a % b, (a, b) => Maximum(a, b), (a, b) => Minimum(a, b),
    ];

    /// <summary>int32 arithmetic is C#'s: wrapping +, -, *; / and % truncated toward zero; eagerly, in the jit and in a fused loop.</summary>
    [Property(MaxTest = 60)]
    public Property Int32_arithmetic_is_CSharp_arithmetic(int[] xs, int[] ys)
    {
        int n = Math.Min(xs.Length, ys.Length);
        var a = xs.Take(n).Select(x => x == 0 ? int.MaxValue : x).ToArray();
        var b = ys.Take(n).Select(y => y == 0 ? -7 : y).ToArray();
        // a few large values, so the products wrap
        if (n > 0) { a[0] = int.MinValue + 3; b[^1] = 65537; }
        var ta = new Tensor(a);
        var tb = new Tensor(b);
        for (int k = 0; k < IntOps.Length; k++)
        {
            var (name, op, f, _) = IntOps[k];
            var want = a.Zip(b, f).ToArray();
            var got = op(ta, tb);
            Assert.Equal(DType.Int32, got.DType);
            Assert.True(want.SequenceEqual(got.ToArray<int>()), $"{name} eager");
            var jit = Ad.Jit(IntExprs[k])(ta, tb);
            Assert.True(want.SequenceEqual(jit.ToArray<int>()), $"{name} jit");
        }
        return true.ToProperty();
    }

    [Property(MaxTest = 40)]
    public Property Int64_arithmetic_is_CSharp_arithmetic(long[] xs, long[] ys)
    {
        int n = Math.Min(xs.Length, ys.Length);
        var a = xs.Take(n).Select(x => x * 3037000493L).ToArray();
        var b = ys.Take(n).Select(y => y == 0 ? 3 : y).ToArray();
        var ta = new Tensor(a);
        var tb = new Tensor(b);
        for (int k = 0; k < IntOps.Length; k++)
        {
            var (name, op, _, f) = IntOps[k];
            var want = a.Zip(b, f).ToArray();
            var got = op(ta, tb);
            Assert.Equal(DType.Int64, got.DType);
            Assert.True(want.SequenceEqual(got.ToArray<long>()), $"{name} eager");
        }
        return true.ToProperty();
    }

    [Fact]
    public void Integer_division_by_zero_throws_as_CSharp_does()
    {
        var a = new Tensor(new[] { 1, 2 });
        var z = new Tensor(new[] { 1, 0 });
        Assert.Throws<DivideByZeroException>(() => a / z);
        Assert.Throws<DivideByZeroException>(() => a % z);
        // floats divide by zero to infinity, as C# does
        Assert.Equal(double.PositiveInfinity, (Np.Ones([1]) / Np.Zeros([1])).Item(0));
    }

    [Fact]
    public void Integer_reductions_and_float_only_functions_give_JAX_dtypes()
    {
        var x = new Tensor(new[] { 1, 2, 3, 4 });
        Assert.Equal((DType.Int32, 10.0), (Sum(x).DType, (double)Sum(x)));
        Assert.Equal((DType.Float32, 2.5), (Mean(x).DType, (double)Mean(x)));
        Assert.Equal((DType.Int32, 4.0), (Max(x).DType, (double)Max(x)));
        Assert.Equal(DType.Float32, Exp(x).DType);
        Assert.Equal(Math.Exp(2), Exp(x).Item(1), 5);
        Assert.Equal(DType.Int32, (-x).DType);
        Assert.Equal(DType.Int32, Square(x).DType);
        Assert.Equal(new[] { 1, 4, 9, 16 }, Square(x).ToArray<int>());
        var mask = x > 2.0;
        Assert.Equal(DType.Bool, mask.DType);
        Assert.Equal((DType.Int32, 2.0), (Sum(mask).DType, (double)Sum(mask)));
        Assert.Equal(DType.Float32, Mean(mask).DType);
        Assert.Equal(DType.Int32, Argmax(x).DType);
        Assert.Equal(3.0, (double)Argmax(x));
    }

    [Fact]
    public void Integer_indices_and_labels_take_and_one_hot_exactly_above_2_pow_24()
    {
        var x = Reshape(Arange(12), [4, 3]);
        var idx = new Tensor(new[] { 3, 0, -1 });
        Assert.Equal(new double[] { 9, 10, 11, 0, 1, 2, 9, 10, 11 }, Take(x, idx, 0).ToDoubleArray());
        var labels = new Tensor(new[] { 2, 0 });
        Assert.Equal(new double[] { 0, 0, 1, 1, 0, 0 }, OneHot(labels, 3).ToDoubleArray());
        // 2^24 + 1 is not a float32; as an int32 index it is exact
        const int big = (1 << 24) + 1;
        var wide = new Tensor(new[] { big });
        Assert.Equal(big, (wide - new Tensor(new[] { 0 })).ToArray<int>()[0]);
        Assert.NotEqual(big, (int)wide.AsType(DType.Float32).ToArray<float>()[0]);
    }

    [Fact]
    public void Casts_follow_CSharp_conversions()
    {
        var f = new Tensor(new[] { -2.7, -0.5, 0.0, 0.5, 2.7, double.NaN });
        Assert.Equal(new[] { -2, 0, 0, 0, 2, 0 }, f.AsType(DType.Int32).ToArray<int>());
        Assert.Equal(new[] { true, true, false, true, true, true }, f.AsType(DType.Bool).ToArray<bool>());
        Assert.Equal(new double[] { 1, 0 }, new Tensor(new[] { true, false }).AsType(DType.Float64).ToDoubleArray());
        Assert.Equal(new[] { unchecked((int)(1L << 33) + 5) }, new Tensor(new[] { (1L << 33) + 5 }).AsType(DType.Int32).ToArray<int>());
    }

    // ------------------------------------------------------------------ bool

    [Fact]
    public void Comparisons_give_bool_masks_that_select_and_combine()
    {
        var x = new Tensor(new[] { -1.0f, 0.5f, 2f, 3f });
        var m = (x > 0.0) & !(x > 2.5);
        Assert.Equal(DType.Bool, m.DType);
        Assert.Equal(new[] { false, true, true, false }, m.ToArray<bool>());
        Assert.Equal(new[] { true, true, true, true }, ((x > 0.0) | (x < 1.0)).ToArray<bool>());
        Assert.Equal(new float[] { 0, 0.5f, 2, 0 }, Where(m, x, 0.0).ToArray<float>());
        Expression<Func<Tensor, Tensor>> f = t => Where((t > 0.0) & !(t > 2.5), t * 2.0, -t);
        Assert.Equal(f.Compile()(x).ToArray<float>(), Ad.Jit(f)(x).ToArray<float>());
        // fused: the mask lives as 0/1 inside the loop and the result is the same
        var big = Rng.Normal(PrngKey.Create(3), [40, 40]);
        Assert.Equal(f.Compile()(big).ToArray<float>(), Ad.Jit(f)(big).ToArray<float>());
        Assert.Contains("fused", Ad.Show(f, big));
        Expression<Func<Tensor, Tensor>> mask = t => (t > 0.0) & (t < 1.0);
        Assert.Equal(mask.Compile()(big).ToArray<bool>(), Ad.Jit(mask)(big).ToArray<bool>());
    }

    // ------------------------------------------------------------------ float16 and bfloat16

    /// <summary>bfloat16 rounding, from its definition: the nearest value with 8 significant bits, ties to an even last bit.</summary>
    static float NearestBFloat16(float f)
    {
        if (float.IsNaN(f) || float.IsInfinity(f)) return f;
        uint u = BitConverter.SingleToUInt32Bits(f);
        float down = BitConverter.UInt32BitsToSingle(u & 0xFFFF0000u);
        float up = BitConverter.UInt32BitsToSingle((u & 0xFFFF0000u) + 0x10000u);
        // past the largest finite value the next step up is 2^128 (which rounds to infinity)
        double upValue = float.IsInfinity(up) ? Math.CopySign(Math.Pow(2, 128), f) : up;
        double dd = Math.Abs((double)f - down), du = Math.Abs(upValue - f);
        if (dd < du) return down;
        if (du < dd) return up;
        return ((u >> 16) & 1) == 0 ? down : up;
    }

    [Property(MaxTest = 200)]
    public Property BFloat16_rounds_to_nearest_even(float f)
    {
        var r = (float)(BFloat16)f;
        var want = NearestBFloat16(f);
        return (r.Equals(want) || float.IsNaN(f) && float.IsNaN(r)).Label($"{f:R}: {r:R} vs {want:R}");
    }

    /// <summary>A half-precision operation is the float32 operation rounded once; eagerly each operation, in the jit the whole chain.</summary>
    [Property(MaxTest = 50)]
    public Property Half_precision_ops_compute_in_float32_and_round_once(NormalFloat[] xs)
    {
        var v = xs.Select(x => (float)Math.Clamp(x.Get, -100, 100)).ToArray();
        if (v.Length == 0) return true.ToProperty();
        foreach (var dt in new[] { DType.Float16, DType.BFloat16 })
        {
            var t = new Tensor(v).AsType(dt);
            var f32 = t.ToArray<float>();
            Func<float, float> round = dt == DType.Float16 ? x => (float)(Half)x : x => (float)(BFloat16)x;
            var want = f32.Select(x => round(MathF.Tanh(x) * x + 1.5f)).ToArray();
            // (tanh x) * x + 1.5 is three operations: each is the float32 operation (the library's own kernel) on the
            // half values, rounded to the half type
            var tanh32 = Tanh(new Tensor(f32)).ToArray<float>();
            var wantStepwise = f32.Select((x, i) => round(round(round(tanh32[i]) * x) + 1.5f)).ToArray();
            var got = (Tanh(t) * t + 1.5).ToArray<float>();
            Assert.Equal(dt, (Tanh(t) * t + 1.5).DType);
            Assert.Equal(wantStepwise, got);
            // the jit keeps float32 between the chain's operations and rounds once (JitHalfFusionTests): the float32
            // chain rounded once, within a unit in the last place (its vector tanh is not MathF's in the last bits)
            Expression<Func<Tensor, Tensor>> f = x => Tanh(x) * x + 1.5;
            var jit = Ad.Jit(f)(t);
            Assert.Equal(dt, jit.DType);
            double ulp = dt == DType.Float16 ? 1.0 / 1024 : 1.0 / 128;
            var jv = jit.ToArray<float>();
            for (int i = 0; i < want.Length; i++) Assert.True(Math.Abs(want[i] - jv[i]) <= ulp * Math.Max(1, Math.Abs(want[i])), $"{dt} jit {f32[i]}");
            // the one-rounding result is within a unit in the last place of the stepwise one
            for (int i = 0; i < want.Length; i++) Assert.True(Math.Abs(want[i] - got[i]) <= 3 * ulp * Math.Max(1, Math.Abs(want[i])), $"{dt} {f32[i]}");
        }
        return true.ToProperty();
    }

    [Fact]
    public void Gradients_flow_through_half_precision_in_its_tolerance()
    {
        Expression<Func<Tensor, Tensor>> loss = x => Sum(Tanh(x) * x);
        var x = new Tensor(new[] { 0.3f, -1.2f, 2f });
        var g32 = Ad.Grad(loss).Compile()(x).ToArray<float>();
        foreach (var dt in new[] { DType.Float16, DType.BFloat16 })
        {
            var g = Ad.Grad(loss).Compile()(x.AsType(dt));
            Assert.Equal(dt, g.DType);
            double tol = dt == DType.Float16 ? 4e-3 : 3e-2;
            var gh = g.ToArray<float>();
            for (int i = 0; i < 3; i++) Assert.True(Math.Abs(gh[i] - g32[i]) <= tol * Math.Max(1, Math.Abs(g32[i])), $"{dt}: {gh[i]} vs {g32[i]}");
            var gj = Ad.Jit(Ad.Grad(loss))(x.AsType(dt)).ToArray<float>();
            for (int i = 0; i < 3; i++) Assert.True(Math.Abs(gj[i] - g32[i]) <= tol * Math.Max(1, Math.Abs(g32[i])), $"{dt} jit: {gj[i]} vs {g32[i]}");
        }
    }

    // ------------------------------------------------------------------ no gradient for integers

    [Fact]
    public void Grad_with_respect_to_an_integer_tensor_names_it()
    {
        Expression<Func<Tensor, Tensor>> f = x => Sum(x.AsType(DType.Float32) * 2.0);
        var ints = new Tensor(new[] { 1, 2 });
        var e = Assert.Throws<GradException>(() => Ad.Grad(f).Compile()(ints));
        Assert.Contains("the argument x", e.Message);
        Assert.Contains("int32[2]", e.Message);
        Assert.Contains("no gradient", e.Message);
        var ej = Assert.Throws<GradException>(() => Ad.Jit(Ad.Grad(f))(ints));
        Assert.Contains("the argument x", ej.Message);
        // with respect to the float argument only, integer data rides along
        Expression<Func<Tensor, Tensor, Tensor>> g = (w, labels) => Sum(w * labels.AsType(DType.Float32));
        var gw = Ad.Grad(g).Compile()(Np.Ones([2]), ints);
        Assert.Equal(new float[] { 1, 2 }, gw.ToArray<float>());
    }

    [Fact]
    public void AsType_inside_expressions_is_differentiable_between_floats_and_has_no_tangent_from_integers()
    {
        Expression<Func<Tensor, Tensor>> f = x => Sum(Square(x.AsType(DType.Float64)));
        var x = new Tensor(new[] { 1.5f, -2f });
        var g = Ad.Grad(f).Compile()(x);
        Assert.Equal(DType.Float32, g.DType);
        Assert.Equal(new float[] { 3, -4 }, g.ToArray<float>());
        Assert.Equal(g.ToArray<float>(), Ad.Jit(Ad.Grad(f))(x).ToArray<float>());
        var shown = Ad.Show(f);
        Assert.True(shown.Contains("AsType(DType.Float64)") || shown.Contains("Lax.Cast("), shown);
        // a float cast to an integer carries no tangent: the gradient through it is zero
        Expression<Func<Tensor, Tensor>> h = x => Sum(x.AsType(DType.Int32).AsType(DType.Float32) * x);
        Assert.Equal(new float[] { 1, -2 }, Ad.Grad(h).Compile()(x).ToArray<float>());
    }

    [Fact]
    public void Jvp_gives_an_integer_argument_no_tangent_whatever_is_passed_for_it()
    {
        Expression<Func<Tensor, Tensor, Tensor>> f = (w, labels) => Sum(w * Exp(labels.AsType(DType.Float32)) + Exp(labels), null, false);
        var w = new Tensor(new[] { 1f, 2f });
        var labels = new Tensor(new[] { 1, 2 });
        var jvp = f.Jvp();
        // a tangent passed for the int32 labels (here ones) is not used: only w's tangent counts
        var (_, dy) = jvp.Compile()(w, labels, new Tensor(new[] { 1f, 0f }), new Tensor(new[] { 1, 1 }));
        Assert.Equal(Math.Exp(1), (double)dy, 5);
        var (_, dyj) = Ad.Jit(jvp)(w, labels, new Tensor(new[] { 1f, 0f }), new Tensor(new[] { 1, 1 }));
        Assert.Equal(Math.Exp(1), (double)dyj, 5);
        // and a float argument's tangent is used as given
        var (_, dz) = jvp.Compile()(w, labels, new Tensor(new[] { 0f, 1f }), new Tensor(new[] { 0, 0 }));
        Assert.Equal(Math.Exp(2), (double)dz, 4);
    }

    // ------------------------------------------------------------------ Vmap batches integer and bool tensors

    [Fact]
    public void Vmap_batches_integer_labels_and_bool_masks_like_any_tensor()
    {
        Expression<Func<Tensor, Tensor, Tensor, Tensor>> perExample = (logits, label, keep) =>
            -Sum(LogSoftmax(logits, -1) * OneHot(label, 3, DType.Float32), null, false) * keep.AsType(DType.Float32);
        var logits = Rng.Normal(PrngKey.Create(5), [4, 3]);
        var labels = new Tensor(new[] { 2, 0, 1, 2 });
        var keep = new Tensor(new[] { true, false, true, true });
        var single = perExample.Compile();
        var loop = Enumerable.Range(0, 4).Select(i => (double)single(Reshape(Take(logits, new Tensor(new[] { i }), 0), [3]), Reshape(Take(labels, new Tensor(new[] { i }), 0), []), Reshape(Take(keep, new Tensor(new[] { i }), 0), []))).ToArray();
        var vm = Ad.Vmap(perExample, [0, 0, 0]);
        var batched = vm.Compile()(logits, labels, keep).ToDoubleArray();
        var jitted = Ad.Jit(vm)(logits, labels, keep).ToDoubleArray();
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(loop[i], batched[i], 5);
            Assert.Equal(loop[i], jitted[i], 5);
        }
        Assert.Equal(0.0, batched[1]);
        // per-example gradients with respect to the logits only; the labels ride along batched
        var g = Ad.Vmap(Ad.Grad(perExample), [0, 0, 0]).Compile()(logits, labels, keep);
        Assert.Equal(new[] { 4, 3 }, g.Shape);
        Assert.Equal(new double[] { 0, 0, 0 }, Take(g, new Tensor(new[] { 1 }), 0).ToDoubleArray());
    }

    // ------------------------------------------------------------------ a training loop with integer labels and a mask

    /// <summary>
    /// Softmax regression on Iris-like separable data with int32 labels and a bool mask that drops some examples: the
    /// loss decreases, and the jitted step gives the eager step's parameters.
    /// </summary>
    [Fact]
    public void A_training_loop_with_int32_labels_and_a_bool_mask_learns_on_eager_and_jit()
    {
        var (x, labels, keep) = DTypeTraining.Data();
        var step = DTypeTraining.Step();
        var eager = step.Compile();
        var jitted = Ad.Jit(step);
        var w = Np.Zeros([3, 3]);
        var wj = w;
        Expression<Func<Tensor, Tensor, Tensor, Tensor, Tensor>> lossOf = DTypeTraining.Loss;
        var loss = lossOf.Compile();
        double first = (double)loss(w, x, labels, keep);
        for (int i = 0; i < 60; i++)
        {
            w = eager(w, x, labels, keep);
            wj = jitted(wj, x, labels, keep);
        }
        double last = (double)loss(w, x, labels, keep);
        Assert.True(last < 0.5 * first, $"loss {first} -> {last}");
        Assert.True(w.AllClose(wj, 1e-4, 1e-5));
        var predicted = Argmax(MatMul(x, w), 1);
        Assert.Equal(DType.Int32, predicted.DType);
        double accuracy = (double)Mean(Equal(predicted, labels));
        Assert.True(accuracy > 0.9, $"accuracy {accuracy}");
    }
}
