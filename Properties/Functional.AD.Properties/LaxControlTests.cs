using System.Linq.Expressions;
using Xunit;

namespace Functional.AD.Properties;

/// <summary>
/// The public loop and batching spellings a printed derivative calls (<c>Lax.Scan</c>, <c>Lax.While</c>,
/// <c>Lax.Batched</c>, Vmap's moves), checked on their own: their documented examples, against plain C# loops and
/// <c>Ad.Vmap</c>, and their errors.
/// </summary>
public sealed class LaxControlTests
{
    static readonly Tensor Xs = new(new[] { 1.0, 2.0, 3.0 });

    [Fact]
    public void Scan_runs_the_body_over_the_rows_and_stacks_the_ys_at_their_steps()
    {
        // the documented example: a cumulative sum (tensor carry) and a running product (double carry)
        var r = Lax.Scan([Tensor.Scalar(0.0, DType.Float64), 1.0], [Xs],
            (Tensor, double, Tensor) (Tensor s, double p, Tensor x) => (s + x, p * (double)x, s + x));
        Assert.Equal(3, r.Length);
        Assert.Equal(6.0, (double)(Tensor)r[0]);
        Assert.Equal(6.0, (double)r[1]);
        Assert.Equal(new[] { 1.0, 3.0, 6.0 }, ((Tensor)r[2]).ToDoubleArray());

        // reversed: the steps run from the last row, the ys still stack at their own step
        var rev = Lax.Scan([Tensor.Scalar(0.0, DType.Float64)], [Xs], (Tensor, Tensor) (Tensor s, Tensor x) => (s + x, s + x), reverse: true);
        Assert.Equal(new[] { 6.0, 5.0, 3.0 }, ((Tensor)rev[1]).ToDoubleArray());

        // no sequence: a length; a weak literal carry given for a tensor parameter becomes a tensor
        var fold = Lax.Scan([0.5], [], Tensor (Tensor c) => c * 2, length: 3);
        Assert.Equal(4.0, (double)(Tensor)fold[0]);

        // zero steps: the carry comes back, the ys are empty, shaped by the body
        var none = Lax.Scan([Np.Ones([2])], [Np.Zeros([0, 3])], (Tensor, Tensor) (Tensor c, Tensor x) => (c, Np.Stack([x, x], 0)));
        Assert.Equal(new[] { 0, 2, 3 }, ((Tensor)none[1]).Shape);
    }

    [Fact]
    public void While_runs_until_the_condition_fails_and_stacks_the_ys_of_the_trips()
    {
        var r = Lax.While([new Tensor(new[] { 1.5 }), 0.0], bool (Tensor x, double k) => (double)Np.Max(x, null, false) < 10,
            (Tensor, double) (Tensor x, double k) => (x * 2, k + 1));
        Assert.Equal(new[] { 12.0 }, ((Tensor)r[0]).ToDoubleArray());
        Assert.Equal(3.0, (double)r[1]);

        // ys over the trips, as a While's derivative saves its residuals; a tensor condition is true when non-zero
        var ys = Lax.While([new Tensor(new[] { 1.0 })], Tensor (Tensor x) => Np.Less(Np.Sum(x, null, false), 5.0),
            (Tensor, Tensor) (Tensor x) => (x + 2, x));
        Assert.Equal(new[] { 5.0 }, ((Tensor)ys[0]).ToDoubleArray());
        Assert.Equal(new[] { 1.0, 3.0 }, ((Tensor)ys[1]).ToDoubleArray());

        // no trip: empty ys shaped by one run of the body
        var none = Lax.While([Np.Ones([2])], bool (Tensor x) => false, (Tensor, Tensor) (Tensor x) => (x, Np.Stack([x, x, x], 0)));
        Assert.Equal(new[] { 0, 3, 2 }, ((Tensor)none[1]).Shape);
    }

    [Fact]
    public void Lax_loops_say_what_is_wrong_with_a_body()
    {
        var grow = Assert.Throws<ShapeException>(() => Lax.Scan([Np.Ones([2])], [Xs], Tensor (Tensor c, Tensor x) => Np.Concatenate([c, c])));
        Assert.Contains("same shape and dtype", grow.Message);
        var arity = Assert.Throws<ArgumentException>(() => Lax.Scan([Np.Ones([2])], [Xs], Tensor (Tensor c) => c));
        Assert.Contains("takes 1 parameters", arity.Message);
        var kind = Assert.Throws<ArgumentException>(() => Lax.Scan(["no"], [Xs], Tensor (Tensor c, Tensor x) => c));
        Assert.Contains("carry 0 is a string", kind.Message);
        var results = Assert.Throws<ArgumentException>(() => Lax.While([Np.Ones([2]), 1.0], bool (Tensor c, double k) => false, Tensor (Tensor c, double k) => c));
        Assert.Contains("2 carries", results.Message);
        var cond = Assert.Throws<ShapeException>(() => Lax.While([Np.Ones([2])], Tensor (Tensor c) => c, Tensor (Tensor c) => c));
        Assert.Contains("not a scalar", cond.Message);
        var lengths = Assert.Throws<ShapeException>(() => Lax.Scan([], [Xs, Np.Ones([2])], Tensor (Tensor a, Tensor b) => a));
        Assert.Contains("different lengths", lengths.Message);
    }

    [Fact]
    public void Batched_applies_the_operation_per_example_as_vmap_does()
    {
        var a = Np.Reshape(Np.Arange(24).AsType(DType.Float64), [4, 3, 2]);
        var v = Np.Reshape(Np.Arange(8).AsType(DType.Float64) * 0.5 - 1, [4, 2]);
        var y = (Tensor)Lax.Batched(1, (Tensor m, Tensor x) => Np.Dot(m, x), a, v);
        Expression<Func<Tensor, Tensor, Tensor>> dot = (m, x) => Np.Dot(m, x);
        Assert.True(y.AllClose(dot.Vmap([0, 0]).Compile()(a, v), 1e-12, 1e-12));
        // a size-1 batch axis broadcasts (an unbatched operand), a weak literal stays unbatched
        var one = (Tensor)Lax.Batched(1, (Tensor m, Tensor x, Tensor s) => Np.Dot(m, x) * s, a, Np.Reshape(Lax.Unstack(v, 0, 0), [1, 2]), 2.0);
        Assert.True(one.AllClose(dot.Vmap([0, null]).Compile()(a, Lax.Unstack(v, 0, 0)) * 2, 1e-12, 1e-12));
        // two batch axes, and an aval operand that carries them
        var s2 = (Tensor)Lax.Batched(2, (Tensor x, Aval t) => Lax.SumTo(x, t), Np.Ones([2, 3, 4, 5]), new Aval([1, 1, 5], DType.Float32));
        Assert.Equal(new[] { 2, 3, 5 }, s2.Shape);
        Assert.True(s2.AllClose(Np.Ones([2, 3, 5]) * 4));
        var bad = Assert.Throws<ShapeException>(() => Lax.Batched(1, (Tensor x, Tensor z) => x + z, Np.Ones([4, 2]), Np.Ones([3, 2])));
        Assert.Contains("batch axis 0 has sizes 4 and 3", bad.Message);
    }

    [Fact]
    public void Vmaps_moves_and_segment_avals_do_what_their_docs_say()
    {
        Assert.Equal(new[] { 4, 2, 3 }, Lax.MoveAxisToFront(Np.Zeros([2, 3, 4]), 2).Shape);
        Assert.Equal(new[] { 2, 3, 4 }, Lax.MoveAxisFromFront(Np.Zeros([4, 2, 3]), -1).Shape);
        Assert.Equal(new[] { 1, 3 }, Lax.AddBatchAxis(Np.Zeros([3])).Shape);
        Assert.Equal(new[] { 1, 3 }, Lax.AddBatchAxis(Np.Zeros([3]).Aval).Dims);
        var size = Lax.BatchSize([Np.Zeros([5, 3]), Np.Zeros([2, 5])], ["x", "y"], [0, 1], null);
        Assert.Equal(new[] { 5 }, size.Dims);
        Assert.Equal(new[] { 5, 2 }, Lax.BroadcastBatch(Np.Ones([1, 2]), size).Shape);
        Assert.Throws<VmapException>(() => Lax.BatchSize([Np.Zeros([5, 3]), Np.Zeros([2, 4])], ["x", "y"], [0, 1], null));
        var seq = Np.Zeros([7, 2]).Aval;
        Assert.Equal(new[] { 6, 2 }, Lax.SegmentAval(seq, 3, 0).Dims);
        Assert.Equal(new[] { 1, 2 }, Lax.SegmentAval(seq, 3, 1).Dims);
        Assert.Equal(new[] { 2, 3, 2 }, Lax.SegmentAval(seq, 3, 2).Dims);
        Assert.Equal(new[] { 14 }, Lax.SegmentAval(seq, 3, 3).Dims);
        Assert.Throws<ArgumentOutOfRangeException>(() => Lax.SegmentAval(seq, 0, 1));
    }
}
