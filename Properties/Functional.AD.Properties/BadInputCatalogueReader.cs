using System.Linq.Expressions;
using Xunit;
using static Functional.AD.Np;
using static Functional.AD.Properties.BadInputs;

namespace Functional.AD.Properties;

/// <summary>Types the reader should reject, each with its own name and what would be accepted.</summary>
public static class CatalogueTypes
{
    public sealed record P(Tensor W, Tensor B);
    public sealed record Statics(int N, string Name);
    public sealed record WithSettable(Tensor W)
    {
        public Tensor? B { get; set; }
    }
    public sealed class WithField(Tensor w)
    {
        public Tensor W { get; } = w;
        public Tensor? Extra;
    }
    public sealed class NoMatchingCtor
    {
        public NoMatchingCtor(Tensor weights) => W = weights * 1.0;
        public Tensor W { get; }
    }
    public sealed record Layers(List<Tensor> Items);
    public sealed record Cfg(int Layers, Tensor W);
    public enum Mode { A, B }
    public static Tensor Helper(Tensor x) => x * 2;
    public static double Counter;
}

/// <summary>Catalogue, reader and pytrees: inputs the expression reader and the pytree reader must reject.</summary>
public sealed class BadInputCatalogueReader
{
    static readonly Tensor x3 = V(1, 2, 3);

    static Expression<Func<T, Tensor>> E<T>(Expression<Func<T, Tensor>> f) => f;

    public static readonly BadInput[] Cases =
    [
        // ---------------------------------------------------------------- pytrees
        Case<PytreeException>("List<Tensor> argument", () => Ad.Grad(E<List<Tensor>>(l => Sum(l[0]))), "List<Tensor>", "collection", "record Params(Tensor W, Tensor B)"),
        Case<PytreeException>("Dictionary argument", () => Ad.Grad(E<Dictionary<string, Tensor>>(d => Sum(d["w"]))), "Dictionary<string, Tensor>", "collection"),
        Case<PytreeException>("array argument", () => Ad.Grad(E<Tensor[]>(a => Sum(a[0]))), "Tensor[]", "array"),
        Case<PytreeException>("double[] argument", () => Ad.Jit(E<double[]>(a => new Tensor(a))), "double[]", "array"),
        Case<PytreeException>("HashSet argument", () => Ad.Show(E<HashSet<Tensor>>(s => Sum(s.First()))), "HashSet<Tensor>", "collection"),
        Case<PytreeException>("record with a List field", () => Ad.Grad(E<CatalogueTypes.Layers>(l => Sum(l.Items[0]))), "List<Tensor>", "collection"),
        Case<PytreeException>("settable property outside the constructor", () => Ad.Grad(E<CatalogueTypes.WithSettable>(p => Sum(p.W))), "WithSettable", "B", "settable", "constructor parameter"),
        Case<PytreeException>("public field outside the constructor", () => Ad.Grad(E<CatalogueTypes.WithField>(p => Sum(p.W))), "WithField", "Extra", "field"),
        Case<PytreeException>("constructor parameter named unlike the property", () => Ad.Grad(E<CatalogueTypes.NoMatchingCtor>(p => Sum(p.W))), "NoMatchingCtor", "positional constructor"),
        Case<PytreeException>("interface argument", () => Ad.Grad(E<IComparable>(c => x3)), "IComparable", "not a pytree"),
        Case<PytreeException>("object argument", () => Ad.Grad(E<object>(c => x3)), "Object", "not a pytree"),
        Case<PytreeException>("nullable double argument", () => Ad.Grad((Expression<Func<double?, double>>)(d => d!.Value * 2)), "not a pytree"),
        Case<PytreeException>("delegate argument", () => Ad.Grad(E<Func<Tensor>>(g => g())), "Func<Tensor>", "not a pytree"),
        Case<PytreeException>("List<Tensor> result", () => Ad.Jvp((Expression<Func<Tensor, List<Tensor>>>)(x => new List<Tensor> { x })), "List<Tensor>", "collection"),
        Case<PytreeException>("Tree.Map over a List", () => Tree.Map(t => t, new List<Tensor> { x3 }), "List<Tensor>", "collection"),
        Case<PytreeException>("Tree.Leaves of a Dictionary", () => Tree.Leaves(new Dictionary<string, Tensor> { ["a"] = x3 }), "Dictionary<string, Tensor>"),
        Case<PytreeException>("Tree.Ravel of an array", () => Tree.Ravel(new[] { x3 }), "Tensor[]", "array"),
        Case<PytreeException>("Tree.Map over a settable-property type", () => Tree.Map(t => t, new CatalogueTypes.WithSettable(x3) { B = x3 }), "WithSettable", "B", "settable"),
        Case<PytreeException>("Optim.Sgd of a List", () => Optim.Sgd<List<Tensor>>(0.1), "List<Tensor>"),
        Case<PytreeException>("Optim.AdamInit of an array", () => Optim.AdamInit(new[] { x3 }), "Tensor[]"),
        Case<PytreeException>("Ad.Vmap over an array argument", () => Ad.Vmap(E<Tensor[]>(a => a[0]), [0]), "Tensor[]"),

        // ---------------------------------------------------------------- reader: the C# an expression may contain
        Case<UnsupportedExpressionException>("unknown user method", () => Ad.Grad((Expression<Func<Tensor, Tensor>>)(x => Sum(CatalogueTypes.Helper(x)))), "Helper(x)", "not differentiable", "docs/csharp-subset.md"),
        Case<UnsupportedExpressionException>("a string method on a static argument", () => Ad.Grad((Expression<Func<double, string, double>>)((x, s) => x + s.IndexOf('a'))), "IndexOf"),
        Case<UnsupportedExpressionException>("string method on a parameter", () => Ad.Grad((Expression<Func<double, string, double>>)((x, s) => x * s.Length)), "s.Length", "cannot be read"),
        Case<UnsupportedExpressionException>("Tensor == comparison", () => Ad.Grad((Expression<Func<Tensor, Tensor>>)(x => Sum(x == -x ? x : -x))), "Np.Equal"),
        Case<UnsupportedExpressionException>("Tensor != comparison", () => Ad.Grad((Expression<Func<Tensor, Tensor>>)(x => Sum(x != -x ? x : -x))), "Np.Equal"),
        Case<UnsupportedExpressionException>("integer division of a static int", () => Ad.Grad((Expression<Func<double, int, double>>)((x, n) => x * (n / 2))), "n / 2", "(double)n / 2"),
        Case<UnsupportedExpressionException>("integer product of static ints", () => Ad.Jit((Expression<Func<Tensor, int, Tensor>>)((x, n) => x * (n * n))), "n * n", "static"),
        Case<UnsupportedExpressionException>("integer sum of static int and literal", () => Ad.Show((Expression<Func<Tensor, int, Tensor>>)((x, n) => x * (n + 1))), "n + 1"),
        Case<UnsupportedExpressionException>("static bool parameter as a condition", () => Ad.Grad((Expression<Func<double, bool, double>>)((x, flag) => flag ? x : -x)), "flag", "static", "captured constant"),
        Case<UnsupportedExpressionException>("static int comparison as a condition", () => Ad.Grad((Expression<Func<double, int, double>>)((x, n) => n > 2 ? x : -x)), "n > 2"),
        Case<UnsupportedExpressionException>("static enum field as a condition", () => Ad.Grad((Expression<Func<double, CatalogueTypes.Mode, double>>)((x, m) => m == CatalogueTypes.Mode.A ? x : -x)), "m == "),
        Case<UnsupportedExpressionException>("compiling an expression inside", () => Ad.Grad((Expression<Func<double, double>>)(x => ((Expression<Func<double, double>>)(y => y)).Compile()(x))), "Compile", "Invoke"),
        Case<UnsupportedExpressionException>("a captured delegate called inside", () => { Func<double, double> g = Math.Sin; return Ad.Grad((Expression<Func<double, double>>)(x => g(x))); }, "Invoke(g, x)", "compiled delegate"),
        Case<UnsupportedExpressionException>("assignment to a static field", () => Ad.Grad(Expression.Lambda<Func<double, double>>(Expression.Assign(Expression.Field(null, typeof(CatalogueTypes), nameof(CatalogueTypes.Counter)), Expression.Parameter(typeof(double), "x")), Expression.Parameter(typeof(double), "x"))), "Assign", "not supported"),
        Case<UnsupportedExpressionException>("a loop statement", () => Ad.Grad(LoopLambda()), "Loop"),
        Case<UnsupportedExpressionException>("an exclusive or", () => Ad.Grad((Expression<Func<double, double>>)(x => (x > 0 ^ x < 1) ? x : -x)), "ExclusiveOr", "not supported"),
        Case<UnsupportedExpressionException>("a power operator method", () => Ad.Grad((Expression<Func<double, double>>)(x => Math.Pow(x, 2) + Math.Log10(x))), "Log10"),
        Case<UnsupportedExpressionException>("a static argument computed from a parameter", () => Ad.Grad((Expression<Func<Tensor, Tensor>>)(x => Sum(Reshape(x, new[] { x.Size })))), "static parameter", "constant"),
        Case<UnsupportedExpressionException>("an axis computed from the input", () => Ad.Grad((Expression<Func<Tensor, Tensor>>)(x => Sum(Sum(x, x.Rank - 1)))), "static"),
        Case<UnsupportedExpressionException>("the ?? operator", () => Ad.Grad((Expression<Func<Tensor, Tensor>>)(x => Sum((x ?? x)!))), "Coalesce"),
        Case<UnsupportedExpressionException>("a non-positional constructor", () => Ad.Grad((Expression<Func<Tensor, Tensor>>)(x => Sum(new CatalogueTypes.NoMatchingCtor(x).W))), "NoMatchingCtor"),
        Case<UnsupportedExpressionException>("a conversion to int", () => Ad.Grad((Expression<Func<double, double>>)(x => (int)x * 1.0)), "int"),
        Case<UnsupportedExpressionException>("an array index on a captured array with a traced index", () => { var a = new[] { 1.0, 2.0 }; return Ad.Grad((Expression<Func<double, double>>)(x => a[(int)x])); }, "int"),
        Case<UnsupportedExpressionException>("a Tensor member other than a pytree field", () => Ad.Grad((Expression<Func<Tensor, Tensor>>)(x => Sum(x) * x.Size)), "x.Size"),
        Case<UnsupportedExpressionException>("a Tensor property as a condition", () => Ad.Show((Expression<Func<Tensor, Tensor>>)(x => x.IsWeak ? x : -x)), "x.IsWeak"),

        // ---------------------------------------------------------------- null arguments to the entry points
        Case<ArgumentNullException>("Ad.Grad(null)", () => Ad.Grad((Expression<Func<Tensor, Tensor>>)null!), "f"),
        Case<ArgumentNullException>("Ad.ValueAndGrad(null)", () => Ad.ValueAndGrad((Expression<Func<Tensor, Tensor>>)null!), "f"),
        Case<ArgumentNullException>("Ad.Jvp(null)", () => Ad.Jvp((Expression<Func<Tensor, Tensor>>)null!), "f"),
        Case<ArgumentNullException>("Ad.Vjp(null)", () => Ad.Vjp((Expression<Func<Tensor, Tensor>>)null!), "f"),
        Case<ArgumentNullException>("Ad.Hvp(null)", () => Ad.Hvp((Expression<Func<Tensor, Tensor>>)null!), "f"),
        Case<ArgumentNullException>("Ad.Jit(null)", () => Ad.Jit((Expression<Func<Tensor, Tensor>>)null!), "f"),
        Case<ArgumentNullException>("Ad.Show(null)", () => Ad.Show(null!), "f"),
        Case<ArgumentNullException>("Ad.Show(null, args)", () => Ad.Show(null!, x3), "f"),
        // the specialised listing reads the function first: its error is the reader's, not wrapped by reflection
        Case<UnsupportedExpressionException>("Ad.Show(f, args) of an eager-only method", () => Ad.Show((Expression<Func<Tensor, Tensor>>)(x => ZerosLike(x) + x), x3), "ZerosLike(x)", "not differentiable"),
        Case<ArgumentNullException>("Ad.Vmap(null)", () => Ad.Vmap((Expression<Func<Tensor, Tensor>>)null!, [0]), "f"),
        Case<ArgumentNullException>("Ad.Vmap(f, null axes)", () => Ad.Vmap((Expression<Func<Tensor, Tensor>>)(x => x), null!), "inAxes"),
        Case<ArgumentNullException>("Ad.Linearize(null)", () => Ad.Linearize((Expression<Func<Tensor, Tensor>>)null!), "f"),
        Case<ArgumentNullException>("Ad.Jacrev(null)", () => Ad.Jacrev((Expression<Func<Tensor, Tensor>>)null!), "f"),
        Case<ArgumentNullException>("Ad.Jacfwd(null)", () => Ad.Jacfwd((Expression<Func<Tensor, Tensor>>)null!), "f"),
        Case<ArgumentNullException>("Ad.Hessian(null)", () => Ad.Hessian((Expression<Func<Tensor, Tensor>>)null!), "f"),
        Case<ArgumentNullException>("Ad.OpCount(null)", () => Ad.OpCount(null!), "f"),
        Case<ArgumentNullException>("Ad.Grad(null, argnums)", () => Ad.Grad(null!, 0), "f"),
        Case<ArgumentNullException>("Ad.GradWithAux(null)", () => Ad.GradWithAux((Expression<Func<Tensor, (Tensor, Tensor)>>)null!), "f"),
        Case<ArgumentNullException>("Ad.Checked(null)", () => Ad.Checked((Expression<Func<Tensor, Tensor>>)null!), "f"),

        // ---------------------------------------------------------------- Show
        Case<ArgumentException>("Ad.Show with too few example arguments", () => Ad.Show((Expression<Func<Tensor, Tensor, Tensor>>)((a, b) => a + b), x3), "takes 2 arguments, got 1"),
        Case<ShapeException>("Ad.Show with mismatched example shapes", () => Ad.Show((Expression<Func<Tensor, Tensor, Tensor>>)((a, b) => Dot(a, b)), M(2, 3), M(2, 3)), "Dot(a, b)", "float64[2,3]"),
        Case<ArgumentNullException>("Ad.Show with a null example tensor", () => Ad.Show((Expression<Func<Tensor, Tensor>>)(a => a * 2), new object?[] { null }), "a", "null"),
        Case<ArgumentException>("Ad.Show with a double[] where a Tensor is expected", () => Ad.Show((Expression<Func<Tensor, Tensor>>)(a => a * 2), new object?[] { new[] { 1.0, 2.0 } }), "double[]", "a Tensor is required", "new Tensor(values)"),
        Case<ArgumentException>("Ad.Show with a string where a Tensor is expected", () => Ad.Show((Expression<Func<Tensor, Tensor>>)(a => a * 2), "x"), "string", "a Tensor is required"),
                Case<UnsupportedExpressionException>("Ad.Show of an unreadable body", () => Ad.Show((Expression<Func<Tensor, Tensor>>)(x => CatalogueTypes.Helper(x))), "Helper(x)"),
        Case<PytreeException>("Ad.Show of a Dictionary parameter", () => Ad.Show((Expression<Func<Dictionary<int, Tensor>, Tensor>>)(d => d[0])), "Dictionary<int, Tensor>", "collection"),
    ];

    static Expression<Func<double, double>> LoopLambda()
    {
        var brk = Expression.Label(typeof(double));
        var x = Expression.Parameter(typeof(double), "x");
        return Expression.Lambda<Func<double, double>>(Expression.Loop(Expression.Break(brk, x), brk), x);
    }

    public static TheoryData<string> Names => BadInputs.Names(Cases);

    [Theory, MemberData(nameof(Names))]
    public void Rejected(string name) => Check(Find(Cases, name));
}
