using System.Linq.Expressions;
using FsCheck;
using FsCheck.Fluent;
using Functional.AD.Testing;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>Vmap of Np.Scan and Np.While against a loop of loops (the function run on each example, eagerly).</summary>
public class VmapLoopTests
{
    static bool Close(Tensor a, Tensor b, double tol = 1e-10)
    {
        if (!a.Shape.SequenceEqual(b.Shape)) return false;
        return a.ToDoubleArray().Zip(b.ToDoubleArray()).All(p => Math.Abs(p.First - p.Second) <= tol * Math.Max(1, Math.Abs(p.Second)));
    }

    static void AssertClose(Tensor a, Tensor b) => Assert.True(Close(a, b), $"{a} vs {b}");

    static Tensor Example(Tensor x, int? axis, int i) => axis is null ? x : Lax.Unstack(x, 0, i);

    static readonly (Expression<Func<Tensor, Tensor, Tensor, Tensor>> Step, Expression<Func<Tensor, Tensor, Tensor, Tensor>> Out, Expression<Func<Tensor, Tensor, Tensor, Tensor>> Loss)[] Bodies =
    [
        ((c, x, w) => Tanh(w * c + x), (c, x, w) => c * x, (c, ys, w) => Sum(c) + Sum(ys * ys)),
        ((c, x, w) => Sin(c) * w + x * 0.5, (c, x, w) => Exp(c * 0.3) + w, (c, ys, w) => Sum(c * w) + Sum(Sin(ys))),
        ((c, x, w) => c * 0.9 + Sigmoid(x * w), (c, x, w) => Tanh(c + x), (c, ys, w) => Sum(c * c) * 0.5 + Sum(ys * w)),
    ];

    [Fact]
    public void Vmap_of_random_scans_equals_a_loop_of_scans()
    {
        var gen = from body in Gen.Choose(0, Bodies.Length - 1)
                  from batch in Gen.Choose(1, 4)
                  from n in Gen.Choose(1, 4)
                  from row in Gens.Shape(0, 2, 3)
                  from axes in Gen.Elements(new int?[] { 0, null, null }, new int?[] { null, 0, null }, new int?[] { null, null, 0 }, new int?[] { 0, 0, 0 }, new int?[] { 0, null, 0 })
                  from xs in Gens.Tensor(axes[0] is null ? [n, .. row] : [batch, n, .. row], DType.Float64)
                  from h in Gens.Tensor(axes[1] is null ? row : [batch, .. row], DType.Float64)
                  from w in Gens.Tensor(axes[2] is null ? row : [batch, .. row], DType.Float64)
                  select (body, batch, axes, xs, h, w);
        var property = Prop.ForAll(Arb.From(gen), c =>
        {
            var (step, @out, loss) = Bodies[c.body];
            var f = Unroll.Looped(step, @out, loss);
            var each = Enumerable.Range(0, c.batch).Select(i => f.Compile()(Example(c.xs, c.axes[0], i), Example(c.h, c.axes[1], i), Example(c.w, c.axes[2], i))).ToArray();
            var v = f.Vmap(c.axes);
            bool ok = Close(v.Compile()(c.xs, c.h, c.w), Stack(each, 0)) && Close(v.Jit()(c.xs, c.h, c.w), Stack(each, 0));
            // the stacked ys too
            Expression<Func<Tensor, Tensor, Tensor, Tensor>> ys = (xs, h, w) => Scan(xs, h, (Tensor cc, Tensor x) => Tuple(Tanh(w * cc + x), cc * x + w)).Item2;
            var eachYs = Enumerable.Range(0, c.batch).Select(i => ys.Compile()(Example(c.xs, c.axes[0], i), Example(c.h, c.axes[1], i), Example(c.w, c.axes[2], i))).ToArray();
            ok = ok && Close(ys.Vmap(c.axes).Compile()(c.xs, c.h, c.w), Stack(eachYs, 0));
            return ok.Label($"body {c.body}, axes [{string.Join(", ", c.axes)}], batch {c.batch}");
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(20).WithQuietOnSuccess(true), property);
    }

    [Fact]
    public void Vmap_of_a_while_with_a_batched_condition_runs_each_example_to_its_own_end()
    {
        Expression<Func<Tensor, Tensor, Tensor>> f = (h, w) => Sum(While(c => Sum(c) < 50, c => c * w + 1, h) * w);
        var h = Tensor.FromArray(new double[,] { { 0.5, 1 }, { 10, 20 }, { 60, 1 }, { 0.1, 0.2 } }, DType.Float64);
        var w = Tensor.FromArray(new[] { 1.5, 1.2 }, DType.Float64);
        var each = Enumerable.Range(0, 4).Select(i => f.Compile()(Lax.Unstack(h, 0, i), w)).ToArray();
        var v = f.Vmap([0, null]);
        AssertClose(v.Compile()(h, w), Stack(each, 0));
        AssertClose(v.Jit()(h, w), Stack(each, 0));
        // the gradient of the vmapped sum adds up the per-example gradients
        Expression<Func<Tensor, Tensor, Tensor>> total = (ww, hh) => Sum(v.Invoke(hh, ww));
        var expected = Enumerable.Range(0, 4).Select(i => ((Expression<Func<Tensor, Tensor, Tensor>>)((ww, hh) => f.Invoke(hh, ww))).Grad().Compile()(w, Lax.Unstack(h, 0, i))).Aggregate((a, b) => a + b);
        AssertClose(total.Grad().Compile()(w, h), expected);
    }

    [Fact]
    public void Vmap_of_a_while_whose_body_batches_the_carry()
    {
        // the carry starts unbatched, the batched w makes it batched: it is broadcast from the start
        Expression<Func<Tensor, Tensor, Tensor>> f = (h, w) => While(c => Sum(c) < 30, c => c * 2 + w, h);
        var h = Tensor.FromArray(new[] { 1.0, 2.0 }, DType.Float64);
        var w = Tensor.FromArray(new double[,] { { 0.5, 1 }, { 4, 5 }, { 0, 0 } }, DType.Float64);
        var each = Enumerable.Range(0, 3).Select(i => f.Compile()(h, Lax.Unstack(w, 0, i))).ToArray();
        AssertClose(f.Vmap([null, 0]).Compile()(h, w), Stack(each, 0));
    }

    [Fact]
    public void Vmap_of_the_gradient_of_a_loop_equals_a_loop_of_gradients()
    {
        // per-example trip counts: one batched While runs until every example is done, each finished example masked
        Expression<Func<Tensor, Tensor, Tensor>> f = (h, w) => Sum(Sin(While(c => Sum(c) < 20, c => c * (1 + w * w) + 0.5, h)) * w);
        var h = Tensor.FromArray(new double[,] { { 0.5, 1 }, { 10, 2 }, { 30, 1 }, { 0.1, 0.2 } }, DType.Float64);
        var w = Tensor.FromArray(new[] { 0.5, 1.2 }, DType.Float64);
        var each = Enumerable.Range(0, 4).Select(i => f.Grad().Compile()(Lax.Unstack(h, 0, i), w)).ToArray();
        var v = f.Grad().Vmap([0, null]);
        AssertClose(v.Compile()(h, w), Stack(each, 0));
        AssertClose(v.Jit()(h, w), Stack(each, 0));
        // a scan, batched over the sequences, gradient with respect to the shared weights
        Expression<Func<Tensor, Tensor, Tensor>> s = (ww, xs) => Sum(Scan(xs, ww * 0, (Tensor c, Tensor x) => Tuple(Tanh(ww * c + x), c * x)).Item2);
        var xsB = Tensor.FromArray(new double[,,] { { { 0.1, 0.2 }, { 0.3, -0.4 } }, { { -1, 0.5 }, { 0.2, 0.2 } }, { { 0.7, 0.7 }, { -0.1, 0 } } }, DType.Float64);
        var eachS = Enumerable.Range(0, 3).Select(i => s.Grad().Compile()(w, Lax.Unstack(xsB, 0, i))).ToArray();
        AssertClose(s.Grad().Vmap([null, 0]).Jit()(w, xsB), Stack(eachS, 0));
    }

    /// <summary>The Scan steps and While trips one call makes (counted by the loops themselves, on this thread).</summary>
    static (long Steps, long Trips, T Result) Runs<T>(Func<T> call)
    {
        long s0 = LoopRuns.ScanSteps, t0 = LoopRuns.WhileTrips;
        var r = call();
        return (LoopRuns.ScanSteps - s0, LoopRuns.WhileTrips - t0, r);
    }

    /// <summary>Loop nodes in a graph and its sub-graphs.</summary>
    static int Loops(Graph g) => g.Nodes.Sum(n => (n.Op == Prims.Scan || n.Op == Prims.While ? 1 : 0) + n.Subgraphs.Sum(Loops));

    public static IEnumerable<object[]> LoopGradients =>
    [
        // a Scan over per-example sequences, the gradient with respect to them (the weights shared)
        ["Scan", (Expression<Func<Tensor, Tensor, Tensor>>)((xs, w) => Sum(Scan(xs, w * 0, (Tensor c, Tensor x) => Tuple(Tanh(w * c + x), c * x)).Item2 * w) + Sum(xs * xs)),
            Tensor.FromArray(new double[,,] { { { 0.1, 0.2 }, { 0.3, -0.4 }, { 0.5, 0.1 } }, { { -1, 0.5 }, { 0.2, 0.2 }, { 0, 1 } }, { { 0.7, 0.7 }, { -0.1, 0 }, { 0.3, 0.3 } }, { { 2, -2 }, { 1, 1 }, { -0.5, 0.25 } } }, DType.Float64)],
        // a Fold whose carry starts at the example
        ["Fold", (Expression<Func<Tensor, Tensor, Tensor>>)((x, w) => Sum(Np.Fold(5, x, (double i, Tensor c) => Tanh(w * c + i / 10 + x)) * x)),
            Tensor.FromArray(new double[,] { { 0.1, -0.2 }, { 0.5, 1 }, { 2, 0.3 }, { -1, -1 } }, DType.Float64)],
        // a While that stops after a different number of trips for each example (1, 2, 5 and 8 trips at these inputs)
        ["While", (Expression<Func<Tensor, Tensor, Tensor>>)((h, w) => Sum(Sin(While(c => Sum(c) < 20, c => c * (1 + w * w) + 0.5, h)) * w)),
            Tensor.FromArray(new double[,] { { 0.5, 1 }, { 10, 2 }, { 19, 0.9 }, { 0.1, 0.2 } }, DType.Float64)],
    ];

    [Theory]
    [MemberData(nameof(LoopGradients))]
    public void Vmap_of_a_loop_gradient_runs_one_batched_loop_not_one_per_example(string what, Expression<Func<Tensor, Tensor, Tensor>> f, Tensor batch)
    {
        var w = Tensor.FromArray(new[] { 0.5, -0.3 }, DType.Float64);
        int b = batch.Shape[0];
        var grad = f.Grad();
        var vmapped = grad.Vmap([0, null]);
        // the rewritten program has the loops of the gradient of one example, each batched: no copy per example
        Assert.Equal(Loops(Reader.Read(grad).Graph), Loops(Reader.Read(vmapped).Graph));
        var one = grad.Compile();
        var each = Enumerable.Range(0, b).Select(i => Runs(() => one(Lax.Unstack(batch, 0, i), w))).ToArray();
        var expected = Stack(each.Select(e => e.Result).ToArray(), 0);
        long steps = each.Max(e => e.Steps), trips = each.Max(e => e.Trips);
        Assert.True(steps > 0, $"{what}: the gradient of one example ran no Scan step");
        if (what == "While") Assert.True(each.Min(e => e.Trips) < trips, "the examples should stop after different numbers of trips");
        var jitted = vmapped.Jit();
        jitted(batch, w);
        foreach (var (backend, run) in new (string, Func<Tensor, Tensor, Tensor>)[] { ("Compile()", vmapped.Compile()), ("Ad.Jit", jitted) })
        {
            var r = Runs(() => run(batch, w));
            // as many steps and trips as the longest example: a loop over the examples would run their sum
            Assert.True(r.Steps == steps && r.Trips == trips,
                $"{what}, {backend}: the vmapped gradient ran {r.Steps} Scan steps and {r.Trips} While trips; the longest example alone runs {steps} and {trips}, all {b} of them {each.Sum(e => e.Steps)} and {each.Sum(e => e.Trips)}");
            Assert.True(Close(r.Result, expected, 1e-12), $"{what}, {backend}: {r.Result} vs the per-example gradients {expected}");
        }
    }

    [Fact]
    public void A_carry_that_a_conditional_gives_a_size_1_batch_axis_keeps_the_whole_batch()
    {
        // fuzz finding (Jit of Vmap, seed 1000597): the branch taken is the unbatched row, which the conditional gives a
        // size-1 batch axis; the carry (batched, of the whole batch) then changed shape at step 0
        Expression<Func<Tensor, Tensor, Tensor>> f = (x, h) =>
            Scan(BroadcastTo(h, new[] { 3, 2 }), x, (Tensor c, Tensor row) => Tuple((double)Sum(h) > 0 ? row * 0.5 : c, c * row)).Item1 * 2;
        var xb = Tensor.FromArray(new double[,] { { 0.1, -0.2 }, { 0.5, 1 }, { 2, 0.3 } }, DType.Float64);
        foreach (var h in new[] { Tensor.FromArray(new[] { 0.4, 0.7 }, DType.Float64), Tensor.FromArray(new[] { -0.4, 0.1 }, DType.Float64) })
        {
            var each = Stack(Enumerable.Range(0, 3).Select(i => f.Compile()(Lax.Unstack(xb, 0, i), h)).ToArray(), 0);
            AssertClose(f.Vmap([0, null]).Compile()(xb, h), each);
            AssertClose(f.Vmap([0, null]).Jit()(xb, h), each);
        }
        // the shrunk program: the gradient's reversed Scan gets such a carry when its cotangent is batched
        Expression<Func<Tensor, Tensor, Tensor>> g = (b, a) =>
            Sum(Let(Scan(BroadcastTo(b, new[] { 1 }), b, (Tensor c, Tensor row) => Tuple((double)b > 0 ? c : row, b)), r => r.Item1 + Sum(r.Item2, 0, false)) * a);
        var ab = Tensor.FromArray(new[] { 0.3, -1.2, 0.7 }, DType.Float64);
        foreach (var b in new[] { Tensor.Scalar(-1.6, DType.Float64), Tensor.Scalar(0.8, DType.Float64) })
        {
            var each = Stack(Enumerable.Range(0, 3).Select(i => g.Grad().Compile()(b, Lax.Unstack(ab, 0, i))).ToArray(), 0);
            AssertClose(g.Grad().Vmap([null, 0]).Compile()(b, ab), each);
            AssertClose(g.Grad().Vmap([null, 0]).Jit()(b, ab), each);
        }
    }

    [Fact]
    public void A_csharp_double_meeting_the_batch_keeps_its_exact_value()
    {
        // i / 10 (a C# double, not a literal) in a batched Fold body: once rounded to float32 (0.1f) when it met the batch
        Expression<Func<Tensor, Tensor, Tensor>> f = (x, w) => Np.Fold(5, x, (double i, Tensor c) => Tanh(w * c + i / 10 + x));
        var xb = Tensor.FromArray(new double[,] { { 0.1, -0.2, 0.4 }, { 0.5, 1, 2 } }, DType.Float64);
        var w = Tensor.FromArray(new[] { 0.3, 0.2, 0.1 }, DType.Float64);
        var one = f.Compile();
        var each = Stack(Enumerable.Range(0, 2).Select(i => one(Lax.Unstack(xb, 0, i), w)).ToArray(), 0);
        Assert.True(Close(f.Vmap([0, null]).Compile()(xb, w), each, 1e-15), "eager");
        Assert.True(Close(f.Vmap([0, null]).Jit()(xb, w), each, 1e-15), "jit");
        Expression<Func<Tensor, Tensor, Tensor>> loss = (x, w) => Sum(f.Invoke(x, w) * x);
        var g = loss.Grad();
        var eachG = Stack(Enumerable.Range(0, 2).Select(i => g.Compile()(Lax.Unstack(xb, 0, i), w)).ToArray(), 0);
        Assert.True(Close(g.Vmap([0, null]).Jit()(xb, w), eachG, 1e-13), "vmapped gradient");
    }
}
