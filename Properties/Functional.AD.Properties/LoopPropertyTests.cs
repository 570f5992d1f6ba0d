using System.Linq.Expressions;
using FsCheck;
using FsCheck.Fluent;
using Functional.AD.Testing;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>Random loops against their unrolled equivalents: values and gradients (reverse mode, every argument).</summary>
public class LoopPropertyTests
{
    // (step, out, loss) over (carry, x, w): the bodies random loops are drawn from
    static readonly (Expression<Func<Tensor, Tensor, Tensor, Tensor>> Step, Expression<Func<Tensor, Tensor, Tensor, Tensor>> Out, Expression<Func<Tensor, Tensor, Tensor, Tensor>> Loss)[] Bodies =
    [
        ((c, x, w) => Tanh(w * c + x), (c, x, w) => c * x, (c, ys, w) => Sum(c) + Sum(ys * ys)),
        ((c, x, w) => Sin(c) * w + x * 0.5, (c, x, w) => Exp(c * 0.3) + w, (c, ys, w) => Sum(c * w) + Sum(Sin(ys))),
        ((c, x, w) => c * 0.9 + Sigmoid(x * w), (c, x, w) => Tanh(c + x), (c, ys, w) => Sum(c * c) * 0.5 + Sum(ys * w)),
        ((c, x, w) => Maximum(c, x) * w - c * 0.25, (c, x, w) => c - x, (c, ys, w) => Sum(Softplus(c)) + Sum(ys)),
    ];

    static Gen<(int Body, Tensor Xs, Tensor H, Tensor W, int Checkpoint)> Loops() =>
        from body in Gen.Choose(0, Bodies.Length - 1)
        from n in Gen.Choose(1, 6)
        from row in Gens.Shape(0, 2, 3)
        from xs in Gens.Tensor([n, .. row], DType.Float64)
        from h in Gens.Tensor(row, DType.Float64)
        from w in Gens.Tensor(row, DType.Float64)
        from k in Gen.Choose(1, 4)
        select (body, xs, h, w, k);

    static bool Close(Tensor a, Tensor b, double tol = 1e-10)
    {
        if (!a.Shape.SequenceEqual(b.Shape)) return false;
        var x = a.ToDoubleArray(); var y = b.ToDoubleArray();
        return x.Zip(y).All(p => Math.Abs(p.First - p.Second) <= tol * Math.Max(1, Math.Abs(p.Second)) || double.IsNaN(p.First) && double.IsNaN(p.Second));
    }

    static Expression<Func<Tensor, Tensor, Tensor, Tensor>> Swap(Expression<Func<Tensor, Tensor, Tensor, Tensor>> f, int k)
    {
        var ps = f.Parameters.ToArray();
        (ps[0], ps[k]) = (ps[k], ps[0]);
        return Expression.Lambda<Func<Tensor, Tensor, Tensor, Tensor>>(f.Body, ps);
    }

    [Fact]
    public void Random_scans_equal_their_unrolled_equivalents_in_value_and_gradient()
    {
        var property = Prop.ForAll(Arb.From(Loops()), c =>
        {
            var (step, @out, loss) = Bodies[c.Body];
            int n = c.Xs.Shape[0];
            var looped = Unroll.Looped(step, @out, loss, c.Checkpoint);
            var unrolled = Unroll.Scan(n, step, @out, loss);
            Tensor[] args = [c.Xs, c.H, c.W];
            var expected = unrolled.Compile()(c.Xs, c.H, c.W);
            bool ok = Close(looped.Jit()(c.Xs, c.H, c.W), expected) && Close(looped.ValueAndGrad().Compile()(c.Xs, c.H, c.W).Value, expected);
            for (int k = 0; k < 3 && ok; k++)
            {
                var a = (Tensor[])args.Clone();
                (a[0], a[k]) = (a[k], a[0]);
                var g = Swap(unrolled, k).Grad().Compile()(a[0], a[1], a[2]);
                ok = Close(Swap(looped, k).Grad().Compile()(a[0], a[1], a[2]), g) && Close(Swap(looped, k).Grad().Jit()(a[0], a[1], a[2]), g);
            }
            return ok.Label($"body {c.Body}, xs {c.Xs.Aval}, checkpoint {c.Checkpoint}");
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(25).WithQuietOnSuccess(true), property);
    }

    [Fact]
    public void Random_whiles_equal_their_unrolled_equivalents_in_value_and_gradient()
    {
        // c -> c * (1 + w^2) + 0.5 while sum(c) < bound: positive carries grow, so it ends; the trip count is found eagerly
        var gen = from row in Gens.Shape(1, 2, 3)
                  from h in Gens.Tensor(row, DType.Float64, Domain.Positive)
                  from w in Gens.Tensor(row, DType.Float64)
                  from bound in Gen.Choose(1, 200)
                  select (h, w, bound: (double)bound);
        var property = Prop.ForAll(Arb.From(gen), c =>
        {
            Expression<Func<Tensor, Tensor, Tensor>> step = (x, w) => x * (1 + w * w) + 0.5;
            int trips = 0;
            var stepF = step.Compile();
            for (var x = c.h; (double)Sum(x) < c.bound; x = stepF(x, c.w)) trips++;
            var hp = Expression.Parameter(typeof(Tensor), "h"); var wp = Expression.Parameter(typeof(Tensor), "w");
            Expression e = hp;
            for (int i = 0; i < trips; i++) e = Unroll.Inline(step, e, wp);
            Expression<Func<Tensor, Tensor, Tensor>> fin = (x, w) => Sum(Sin(x) * w);
            var unrolled = Expression.Lambda<Func<Tensor, Tensor, Tensor>>(Unroll.Inline(fin, e, wp), hp, wp);
            var bound = c.bound;
            Expression<Func<Tensor, Tensor, Tensor>> looped = (h, w) => Sum(Sin(While(x => Sum(x) < bound, x => x * (1 + w * w) + 0.5, h)) * w);
            Expression<Func<Tensor, Tensor, Tensor>> byW = (w, h) => looped.Invoke(h, w);
            var unW = Expression.Lambda<Func<Tensor, Tensor, Tensor>>(unrolled.Body, wp, hp);
            bool ok = Close(looped.Jit()(c.h, c.w), unrolled.Compile()(c.h, c.w))
                && Close(looped.Grad().Compile()(c.h, c.w), unrolled.Grad().Compile()(c.h, c.w))
                && Close(looped.Grad().Jit()(c.h, c.w), unrolled.Grad().Compile()(c.h, c.w))
                && Close(byW.Grad().Compile()(c.w, c.h), unW.Grad().Compile()(c.w, c.h));
            return ok.Label($"h {c.h.Aval}, {trips} trips");
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(20).WithQuietOnSuccess(true), property);
    }
}
