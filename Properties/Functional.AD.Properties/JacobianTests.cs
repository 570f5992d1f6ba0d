using System.Linq.Expressions;
using FsCheck;
using FsCheck.Fluent;
using Functional.AD.Testing;
using Xunit;

namespace Functional.AD.Properties;

/// <summary>Jacobians and Hessians: forward equals reverse, both equal finite differences, Hessians are symmetric.</summary>
public class JacobianTests
{
    /// <summary>
    /// The specs of one argument with forward mode that Vmap can batch (Jacobians are vmapped JVPs and VJPs; Vmap
    /// refuses a batch through C# scalar code, which VmapSpecTests checks).
    /// </summary>
    public static IEnumerable<object[]> UnarySpecs => Names(s => s.Arity == 1 && !s.ReverseOnly && !VmapSpecTests.UsesScalars(s));
    /// <summary>The unary specs whose gradient can be differentiated again and checked by differences (loops' cannot yet).</summary>
    public static IEnumerable<object[]> HessianSpecs => Names(s => s.Arity == 1 && !s.ReverseOnly && !VmapSpecTests.UsesScalars(s) && s.FiniteDifferences && s.SecondOrder);

    static IEnumerable<object[]> Names(Func<PrimitiveSpec, bool> which) => Specs.All.Where(which).Select(s => new object[] { s.Name });

    static PrimitiveSpec Spec(string name) => Specs.All.Single(s => s.Name == name);

    [Theory]
    [MemberData(nameof(UnarySpecs))]
    public void Jacfwd_equals_jacrev_and_central_differences(string name)
    {
        var spec = Spec(name);
        var f = (Expression<Func<Tensor, Tensor>>)spec.Function;
        Func<Tensor, Tensor> jf = f.Jacfwd().Compile(), jr = f.Jacrev().Compile(), fc = f.Compile();
        var property = Prop.ForAll(Arb.From(spec.Inputs(DType.Float64)), xs =>
        {
            var x = xs[0].AsType(DType.Float64);
            Tensor a = jf(x), b = jr(x);
            var y = fc(x);
            if (!a.Shape.SequenceEqual(y.Shape.Concat(x.Shape))) return false.Label($"Jacfwd shape {a.Aval}, expected {y.Aval} ++ {x.Aval}");
            if (!a.AllClose(b, 1e-10, 1e-10)) return false.Label($"Jacfwd {a}\nJacrev {b}");
            if (!spec.FiniteDifferences) return (a.ToDoubleArray().All(v => v == 0)).Label("Jacobian of a zero-derivative primitive is not zero");
            // column j of the Jacobian against (f(x + h e_j) - f(x - h e_j)) / 2h
            var xv = x.ToDoubleArray(); int n = xv.Length, m = y.Size;
            var jac = a.ToDoubleArray();
            for (int j = 0; j < n; j++)
            {
                var p = (double[])xv.Clone(); p[j] += spec.Step; var q = (double[])xv.Clone(); q[j] -= spec.Step;
                var fp = fc(new Tensor(p, x.Shape.ToArray())).ToDoubleArray(); var fq = fc(new Tensor(q, x.Shape.ToArray())).ToDoubleArray();
                for (int i = 0; i < m; i++)
                {
                    double num = (fp[i] - fq[i]) / (2 * spec.Step), sym = jac[i * n + j];
                    if (Math.Abs(num - sym) > spec.Tolerance * Math.Max(1, Math.Max(Math.Abs(num), Math.Abs(sym))))
                        return false.Label($"J[{i},{j}] = {sym}, numeric {num}");
                }
            }
            return true.ToProperty();
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(10).WithQuietOnSuccess(true), property);
    }

    [Theory]
    [MemberData(nameof(HessianSpecs))]
    public void Hessian_is_symmetric_and_matches_hvp(string name)
    {
        var spec = Spec(name);
        var f = (Expression<Func<Tensor, Tensor>>)spec.Function;
        Expression<Func<Tensor, Tensor>> scalar = x => Np.Sum(f.Invoke(x) * f.Invoke(x), null, false);
        var hess = scalar.Hessian().Compile();
        var hvp = scalar.Hvp().Compile();
        var property = Prop.ForAll(Arb.From(spec.Inputs(DType.Float64)), xs =>
        {
            var x = xs[0].AsType(DType.Float64);
            var h = hess(x);
            int n = x.Size;
            var hm = h.ToDoubleArray();
            for (int i = 0; i < n; i++)
                for (int j = 0; j < i; j++)
                    if (Math.Abs(hm[i * n + j] - hm[j * n + i]) > 1e-9 * Math.Max(1, Math.Abs(hm[i * n + j])))
                        return false.Label($"H[{i},{j}] = {hm[i * n + j]} but H[{j},{i}] = {hm[j * n + i]}");
            var v = Gens.Weights(x.Shape, DType.Float64, 3);
            var hv = hvp(x, v).ToDoubleArray();
            var vv = v.ToDoubleArray();
            for (int i = 0; i < n; i++)
            {
                double s = 0;
                for (int j = 0; j < n; j++) s += hm[i * n + j] * vv[j];
                if (Math.Abs(s - hv[i]) > 1e-9 * Math.Max(1, Math.Abs(s))) return false.Label($"(H v)[{i}] = {s}, Hvp gives {hv[i]}");
            }
            return true.ToProperty();
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(5).WithQuietOnSuccess(true), property);
    }

    [Fact]
    public void Jacobian_of_a_pytree_function_through_ravel()
    {
        // (double leaves would be scalar code, which Vmap cannot batch: keep parameters as tensors)
        Expression<Func<(Tensor W, Tensor B), Tensor>> f = p => Np.Tanh(p.W * p.B);
        var p0 = (new Tensor(new[] { 0.5, -1.0 }), Tensor.Scalar(2.0, DType.Float64));
        var (flat, _) = Tree.Ravel(p0);
        var j = Ad.Ravel(f, p0).Jacfwd().Compile()(flat).ToDoubleArray();   // shape [2, 3]
        // d tanh(w_i b) / d w_j = δ_ij b sech², d / d b = w_i sech²
        double s0 = 1 - Math.Pow(Math.Tanh(1.0), 2), s1 = 1 - Math.Pow(Math.Tanh(-2.0), 2);
        Assert.Equal(new[] { 2 * s0, 0, 0.5 * s0, 0, 2 * s1, -1.0 * s1 }, j, new Tolerance(1e-12));
        var jr = Ad.Ravel(f, p0).Jacrev().Compile()(flat).ToDoubleArray();
        Assert.Equal(j, jr, new Tolerance(1e-12));
    }

    [Fact]
    public void Jacobian_of_a_pytree_output_is_raveled()
    {
        Expression<Func<Tensor, (Tensor, Tensor)>> f = x => Np.Tuple(x * 2.0, Np.Sum(x, null, false));
        var j = f.Jacfwd().Compile()(new Tensor(new[] { 1.0, 2.0 }));
        Assert.Equal(new[] { 3, 2 }, j.Shape);
        Assert.Equal(new[] { 2.0, 0, 0, 2, 1, 1 }, j.ToDoubleArray());
    }

    [Fact]
    public void Jacobian_of_something_that_is_not_a_tensor_or_pytree_is_an_error()
    {
        Expression<Func<Tensor, string>> f = x => "not differentiable";
        var e = Assert.Throws<PytreeException>(() => f.Jacfwd());
        Assert.Contains("returns string", e.Message);
        Assert.Contains("floating leaves", e.Message);
        Expression<Func<Tensor, List<Tensor>>> g = x => new List<Tensor>();
        var e2 = Assert.Throws<PytreeException>(() => g.Jacrev());
        Assert.Contains("List<Tensor>", e2.Message);
    }

    [Fact]
    public void Hessian_of_a_non_scalar_function_is_an_error_naming_the_shape()
    {
        Expression<Func<Tensor, Tensor>> f = x => Np.Sin(x);
        var e = Assert.Throws<GradException>(() => f.Hessian().Compile()(new Tensor(new[] { 1.0, 2.0, 3.0 })));
        Assert.Contains("scalar", e.Message);
        Assert.Contains("float64[3]", e.Message);
        Expression<Func<Tensor, (Tensor, Tensor)>> g = x => Np.Tuple(x, x);
        Assert.Throws<GradException>(() => g.Hessian());
    }
}
