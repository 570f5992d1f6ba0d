using System.Linq.Expressions;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>The state of an LSTM cell: the hidden state and the cell state, carried together through a Scan.</summary>
public record LstmState(Tensor H, Tensor C);

/// <summary>The weights of a small LSTM cell (elementwise input and recurrent weights per gate).</summary>
public record LstmWeights(Tensor Wi, Tensor Ui, Tensor Wf, Tensor Uf, Tensor Wo, Tensor Uo, Tensor Wg, Tensor Ug);

/// <summary>
/// Loops whose carry is a pytree (a record or a tuple of tensors and doubles): an LSTM's <c>(h, c)</c> through
/// <c>Np.Scan</c>, a tuple through <c>Np.Fold</c>. Values and gradients against the same program unrolled, on
/// Compile() and Jit, and under Vmap.
/// </summary>
public class PytreeCarryTests
{
    static Tensor T(params double[] v) => Tensor.FromArray(v, DType.Float64);
    static Tensor Xs => Tensor.FromArray(new double[,] { { 0.3, -0.7, 1.1 }, { 0.2, 0.5, -0.4 }, { -1.0, 0.1, 0.6 }, { 0.8, -0.3, 0.0 } }, DType.Float64);
    static readonly Tensor I0 = Tensor.Scalar(0, DType.Float64), I1 = Tensor.Scalar(1, DType.Float64), I2 = Tensor.Scalar(2, DType.Float64), I3 = Tensor.Scalar(3, DType.Float64);
    static Tensor Row(Tensor t, int i) => Take(t, Tensor.Scalar(i, DType.Float64), 0);
    static readonly LstmWeights W0 = new(T(0.5, -0.3, 0.8), T(0.2, 0.4, -0.1), T(-0.6, 0.7, 0.3), T(0.1, -0.2, 0.5),
        T(0.9, 0.1, -0.4), T(-0.3, 0.6, 0.2), T(0.4, -0.8, 0.7), T(0.3, 0.2, -0.6));

    static readonly Expression<Func<LstmState, Tensor, LstmWeights, LstmState>> Cell = (s, x, w) =>
        Let(Sigmoid(w.Wf * x + w.Uf * s.H), f =>
        Let(Sigmoid(w.Wi * x + w.Ui * s.H) * Tanh(w.Wg * x + w.Ug * s.H) + f * s.C, c =>
            new LstmState(Sigmoid(w.Wo * x + w.Uo * s.H) * Tanh(c), c)));

    static readonly Expression<Func<Tensor, LstmWeights, Tensor>> Looped = (xs, w) =>
        Let(Scan(xs, new LstmState(Take(xs, I0, 0) * 0, Take(xs, I0, 0) * 0 + 0.1), (LstmState s, Tensor x) => Tuple(Cell.Invoke(s, x, w), Sum(s.H * s.C))),
            r => Sum(r.Item1.H * r.Item1.C) + Sum(r.Item2 * r.Item2));

    static readonly Expression<Func<Tensor, LstmWeights, Tensor>> Unrolled = (xs, w) =>
        Let(new LstmState(Take(xs, I0, 0) * 0, Take(xs, I0, 0) * 0 + 0.1), s0 =>
        Let(Cell.Invoke(s0, Take(xs, I0, 0), w), s1 =>
        Let(Cell.Invoke(s1, Take(xs, I1, 0), w), s2 =>
        Let(Cell.Invoke(s2, Take(xs, I2, 0), w), s3 =>
        Let(Cell.Invoke(s3, Take(xs, I3, 0), w), s4 =>
        Let(Stack(new[] { Sum(s0.H * s0.C), Sum(s1.H * s1.C), Sum(s2.H * s2.C), Sum(s3.H * s3.C) }, 0), ys =>
            Sum(s4.H * s4.C) + Sum(ys * ys)))))));

    static void Close(Tensor a, Tensor b, double tol, string what)
    {
        var x = a.ToDoubleArray(); var y = b.ToDoubleArray();
        Assert.Equal(b.Shape, a.Shape);
        for (int i = 0; i < x.Length; i++)
            Assert.True(Math.Abs(x[i] - y[i]) <= tol * Math.Max(1, Math.Abs(y[i])), $"{what}: element {i}: {x[i]} vs {y[i]}");
    }

    static void Close(LstmWeights a, LstmWeights b, double tol, string what)
    {
        var pa = new[] { a.Wi, a.Ui, a.Wf, a.Uf, a.Wo, a.Uo, a.Wg, a.Ug };
        var pb = new[] { b.Wi, b.Ui, b.Wf, b.Uf, b.Wo, b.Uo, b.Wg, b.Ug };
        for (int k = 0; k < pa.Length; k++) Close(pa[k], pb[k], tol, $"{what}, weight {k}");
    }

    [Fact]
    public void An_lstm_scan_with_an_h_c_carry_matches_the_unrolled_program()
    {
        var expected = Unrolled.Compile()(Xs, W0);
        Close(Looped.Compile()(Xs, W0), expected, 1e-12, "value");
        Close(Looped.Jit()(Xs, W0), expected, 1e-12, "value, jit");
        // eager Np.Scan over the same cell, outside any expression
        var cell = Cell.Compile();
        var (s, ys) = Np.Scan(Xs, new LstmState(Row(Xs, 0) * 0, Row(Xs, 0) * 0 + 0.1), (st, x) => (cell(st, x, W0), Sum(st.H * st.C)));
        Close(Sum(s.H * s.C) + Sum(ys * ys), expected, 1e-12, "eager");
    }

    [Fact]
    public void Gradients_through_an_lstm_scan_match_the_unrolled_program()
    {
        Expression<Func<LstmWeights, Tensor, Tensor>> byW = (w, xs) => Looped.Invoke(xs, w);
        Expression<Func<LstmWeights, Tensor, Tensor>> byWu = (w, xs) => Unrolled.Invoke(xs, w);
        var expected = byWu.Grad().Compile()(W0, Xs);
        Close(byW.Grad().Compile()(W0, Xs), expected, 1e-12, "d/dw");
        Close(byW.Grad().Jit()(W0, Xs), expected, 1e-12, "d/dw, jit");
        Close(Looped.Grad().Jit()(Xs, W0), Unrolled.Grad().Compile()(Xs, W0), 1e-12, "d/dxs");
        // per-sequence gradients of a batch of sequences: one batched loop, against a loop of gradients
        var batch = Stack(new[] { Xs, Xs * 0.5, -Xs }, 0);
        var perExample = Ad.Vmap(byW.Grad(), inAxes: [null, 0]).Jit()(W0, batch);
        for (int b = 0; b < 3; b++)
        {
            var one = byWu.Grad().Compile()(W0, Row(batch, b));
            Close(new LstmWeights(Row(perExample.Wi, b), Row(perExample.Ui, b), Row(perExample.Wf, b), Row(perExample.Uf, b), Row(perExample.Wo, b), Row(perExample.Uo, b), Row(perExample.Wg, b), Row(perExample.Ug, b)),
                one, 1e-12, $"vmapped gradient, example {b}");
        }
    }

    [Fact]
    public void An_lstm_with_an_h_c_record_carry_trains()
    {
        // the cell above, read out by a weight on h, fitted to a sine wave's next value (Examples/Rnn is the larger form)
        var series = Enumerable.Range(0, 21).Select(t => Math.Sin(0.4 * t)).ToArray();
        // the input broadcast to the cell's 3 units: [20, 3]
        var xs = Reshape(Tensor.FromArray(Enumerable.Range(0, 20).Select(t => series[t]).ToArray(), DType.Float64), [20, 1]) * Ones([20, 3], DType.Float64);
        var target = Tensor.FromArray(series.Skip(1).ToArray(), DType.Float64);
        var zero = Zeros([3], DType.Float64);
        Expression<Func<LstmWeights, Tensor, Tensor>> loss = (w, readout) =>
            Let(Scan(xs, new LstmState(zero, zero),
                    (LstmState s, Tensor x) => Let(Cell.Invoke(s, x, w), n => Tuple(n, Sum(readout * n.H)))).Item2,
                pred => Sum((pred - target) * (pred - target)) / 20);
        var value = loss.Jit();
        var grad = loss.Grad().Jit();
        var readout = T(0.5, -0.5, 0.3);
        var w = W0;
        double first = (double)value(w, readout);
        var velocity = Tree.Map(t => t * 0, w);
        for (int step = 0; step < 150; step++)
        {
            var g = grad(w, readout);
            velocity = Tree.Map((v, gi) => 0.9 * v - 0.1 * gi, velocity, g);
            w = Tree.Map((a, v) => a + v, w, velocity);
        }
        double last = (double)value(w, readout);
        Assert.True(double.IsFinite(last) && last < 0.6 * first, $"the LSTM's loss went from {first} to {last}");
    }

    [Fact]
    public void A_fold_with_a_tuple_carry_matches_the_unrolled_program_to_second_order()
    {
        Expression<Func<Tensor, Tensor>> looped = x => Sum(Np.Fold(3, ValueTuple.Create(x, x * 0.5), (double i, ValueTuple<Tensor, Tensor> c) =>
            ValueTuple.Create(Sin(c.Item1) * c.Item2 + i * 0.1, c.Item2 + c.Item1 * x)).Item2);
        Expression<Func<Tensor, Tensor>> unrolled = x =>
            Let(ValueTuple.Create(Sin(x) * (x * 0.5) + 0.0, x * 0.5 + x * x), c1 =>
            Let(ValueTuple.Create(Sin(c1.Item1) * c1.Item2 + 0.1, c1.Item2 + c1.Item1 * x), c2 =>
                Sum(c2.Item2 + Sin(c2.Item1) * 0 + c2.Item1 * x)));
        var x = T(0.4, -0.9, 1.3);
        Close(looped.Compile()(x), unrolled.Compile()(x), 1e-12, "value");
        Close(looped.Grad().Jit()(x), unrolled.Grad().Compile()(x), 1e-12, "gradient");
        Close(looped.Hessian().Jit()(x), unrolled.Hessian().Compile()(x), 1e-10, "Hessian");
    }

    [Fact]
    public void A_mixed_tensor_and_double_carry_runs_and_a_carry_leaf_that_changes_shape_is_named()
    {
        Expression<Func<Tensor, Tensor>> f = x => Np.Fold(2, ValueTuple.Create(x, 1.0), (double i, ValueTuple<Tensor, double> c) => ValueTuple.Create(c.Item1 * 2, c.Item2 * 2)).Item1;
        Assert.Equal(4.0, (double)Sum(f.Compile()(T(1.0))), 12);
        Expression<Func<Tensor, Tensor>> bad = x => Np.Scan(x, ValueTuple.Create(Take(x, I0, 0), Take(x, I0, 0)), (ValueTuple<Tensor, Tensor> c, Tensor r) => Tuple(ValueTuple.Create(c.Item1, Sum(c.Item2 * r, null, false)), r)).Item1.Item1;
        var e = Assert.ThrowsAny<Exception>(() => bad.Jit()(Tensor.FromArray(new double[,] { { 1, 2 }, { 3, 4 } }, DType.Float64)));
        Assert.Contains("carry", e.Message);
    }

    [Fact]
    public void A_while_with_a_tuple_carry_matches_the_unrolled_program_to_second_order()
    {
        // (a, s): a doubles with growth (1 + w^2) until its sum passes 20, s sums the a's seen; the trips are fixed near w
        Expression<Func<Tensor, Tensor>> looped = w => Sum(Np.While((ValueTuple<Tensor, Tensor> c) => Sum(c.Item1) < 20,
            (ValueTuple<Tensor, Tensor> c) => ValueTuple.Create(c.Item1 * (1 + w * w) + 0.5, c.Item2 + Sin(c.Item1) * w), ValueTuple.Create(w * 0 + 1, w * 0)).Item2);
        var w0 = T(0.4, -0.3, 0.6);
        int trips = 0;
        for (var a = w0 * 0 + 1; (double)Sum(a) < 20; trips++) a = a * (1 + w0 * w0) + 0.5;
        Assert.True(trips > 3);
        var pw = Expression.Parameter(typeof(Tensor), "w");
        Expression<Func<Tensor, Tensor, Tensor>> stepA = (a, w) => a * (1 + w * w) + 0.5;
        Expression<Func<Tensor, Tensor, Tensor, Tensor>> stepS = (a, s, w) => s + Sin(a) * w;
        Expression<Func<Tensor, Tensor>> zero = w => w * 0;
        Expression<Func<Tensor, Tensor>> one = w => w * 0 + 1;
        Expression ea = Unroll.Inline(one, pw), es = Unroll.Inline(zero, pw);
        for (int i = 0; i < trips; i++) (ea, es) = (Unroll.Inline(stepA, ea, pw), Unroll.Inline(stepS, ea, es, pw));
        var sum = Expression.Call(typeof(Np).GetMethod(nameof(Np.Sum), [typeof(Tensor), typeof(int?), typeof(bool)])!, es, Expression.Constant(null, typeof(int?)), Expression.Constant(false));
        var unrolled = Expression.Lambda<Func<Tensor, Tensor>>(sum, pw);
        Close(looped.Compile()(w0), unrolled.Compile()(w0), 1e-12, "value");
        Close(looped.Grad().Jit()(w0), unrolled.Grad().Compile()(w0), 1e-12, "gradient");
        Close(looped.Hessian().Jit()(w0), unrolled.Hessian().Compile()(w0), 1e-10, "Hessian");
    }
}
