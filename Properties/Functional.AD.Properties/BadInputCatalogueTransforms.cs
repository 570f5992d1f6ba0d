using System.Linq.Expressions;
using Xunit;
using static Functional.AD.Np;
using static Functional.AD.Properties.BadInputs;
using P = Functional.AD.Properties.CatalogueTypes.P;

namespace Functional.AD.Properties;

/// <summary>Catalogue, transformations: Grad, Jvp, Vjp, Hvp, Jit, Vmap and loops given inputs they cannot take.</summary>
public sealed class BadInputCatalogueTransforms
{
    static readonly Tensor x3 = V(1, 2, 3);
    static readonly Expression<Func<Tensor, Tensor>> sumSin = x => Sum(Sin(x));
    static readonly Expression<Func<Tensor, Tensor>> tanh = x => Tanh(x);
    static readonly Expression<Func<Tensor, Tensor, Tensor>> dot = (a, b) => Dot(a, b);

    public static readonly BadInput[] Cases =
    [
        // ---------------------------------------------------------------- Grad of nothing differentiable
        Case<GradException>("Grad of an int argument", () => Ad.Grad((Expression<Func<int, double>>)(n => n * 2.0)), "`n`", "int", "nothing to differentiate"),
        Case<GradException>("Grad of a long argument", () => Ad.Grad((Expression<Func<long, double>>)(n => n * 2.0)), "long"),
        Case<GradException>("Grad of a bool argument", () => Ad.Grad((Expression<Func<bool, double>>)(b => 2.0)), "bool", "static"),
        Case<GradException>("Grad of a string argument", () => Ad.Grad((Expression<Func<string, double, double>>)((s, x) => x)), "string"),
        Case<GradException>("Grad of a record of statics", () => Ad.Grad((Expression<Func<CatalogueTypes.Statics, double>>)(s => s.N * 1.0)), "Statics", "N: int", "Name: string"),
        Case<GradException>("Grad wrt a static second argument", () => Ad.Grad((Expression<Func<double, int, double>>)((x, n) => x * n), Wrt.Second), "`n`", "int"),
        Case<GradException>("Grad argnums at a static argument", () => Ad.Grad((Expression<Func<double, int, double>>)((x, n) => x * n), 1), "`n`"),
        Case<GradException>("ValueAndGrad of an int", () => Ad.ValueAndGrad((Expression<Func<int, double>>)(n => n * 2.0)), "Ad.ValueAndGrad", "`n`"),
        Case<GradException>("GradWithAux of an int", () => Ad.GradWithAux<int, double, double>((Expression<Func<int, (double, double)>>)(n => ValueTuple.Create(n * 2.0, 1.0))), "Ad.GradWithAux", "`n`"),
        Case<GradException>("Vjp of an int", () => Ad.Vjp((Expression<Func<int, double>>)(n => n * 2.0)), "Ad.Vjp", "`n`"),
        Case<GradException>("Hvp of an int", () => Ad.Hvp((Expression<Func<int, double>>)(n => n * 2.0)), "`n`"),
        Case<GradException>("Grad of a vector output", () => Ad.Grad(tanh).Compile()(x3), "scalar output", "float64[3]", "Tanh(x)"),
        Case<GradException>("Grad of a tuple output", () => Ad.Grad((Expression<Func<Tensor, (Tensor, Tensor)>>)(x => ValueTuple.Create(Sum(x), Sum(x)))), "scalar output", "(Tensor, Tensor)"),
        Case<GradException>("Grad of a bool output", () => Ad.Grad((Expression<Func<double, bool>>)(x => x > 0)), "scalar output", "bool"),
        Case<GradException>("Grad of an int output", () => Ad.Grad((Expression<Func<double, int>>)(x => 3)), "scalar output", "int"),
        Case<GradException>("GradWithAux with a vector loss", () => Ad.GradWithAux((Expression<Func<Tensor, (Tensor, Tensor)>>)(x => ValueTuple.Create(x * 2, x))).Compile()(x3), "scalar output", "float64[3]"),
        Case<GradException>("Grad of a matrix output under Jit", () => Ad.Jit(Ad.Grad(tanh))(M(2, 2)), "scalar output", "[2,2]"),
        Case<GradException>("Grad of a function of no arguments", () => Ad.GradCore((Expression<Func<double>>)(() => 1.0), typeof(Func<double>), typeof(double), false), "no argument"),
        Case<ArgumentOutOfRangeException>("Grad argnums out of range", () => Ad.Grad(dot, 2), "out of range", "0..1"),
        Case<ArgumentOutOfRangeException>("Grad argnums negative", () => Ad.Grad(dot, -1), "out of range"),
        Case<ArgumentException>("Grad argnums repeated", () => Ad.Grad(dot, 0, 0), "repeat"),
        Case<ArgumentException>("Grad argnums empty", () => Ad.Grad(dot, Array.Empty<int>()), "at least one"),

        // ---------------------------------------------------------------- Jvp, Vjp, Hvp: tangents and cotangents
        Case<ShapeException>("Jvp tangent [1] for a [3] primal", () => Ad.Jvp(tanh).Compile()(x3, V(1)), "tangent dx", "float64[1]", "float64[3]", "no broadcasting"),
        Case<ShapeException>("Jvp tangent [2] for a [3] primal", () => Ad.Jvp(tanh).Compile()(x3, V(1, 2)), "tangent dx", "float64[2]"),
        Case<ShapeException>("Jvp tangent [3,3] for a [3] primal", () => Ad.Jvp(tanh).Compile()(x3, M(3, 3)), "float64[3,3]"),
        Case<ShapeException>("Jvp tangent rank 0 for a [3] primal", () => Ad.Jvp(tanh).Compile()(x3, Tensor.Scalar(1, DType.Float64)), "float64[]"),
        Case<ShapeException>("Jvp of a pytree, one leaf wrong", () => Ad.Jvp((Expression<Func<P, Tensor>>)(p => Sum(p.W * p.B))).Compile()(new P(x3, x3), new P(x3, V(1))), "dp.B", "the primal p.B"),
        Case<ShapeException>("Jvp second tangent wrong", () => Ad.Jvp(dot).Compile()(x3, x3, x3, V(1)), "db", "float64[1]"),
        Case<ShapeException>("Jvp tangent wrong under Jit", () => Ad.Jit(Ad.Jvp(tanh))(x3, V(1)), "tangent dx", "float64[1]", "float64[3]"),
        Case<ShapeException>("Vjp cotangent [3,3] for a [3] output", () => Ad.Vjp(tanh).Compile()(x3, M(3, 3)), "cotangent ct", "float64[3,3]", "float64[3]"),
        Case<ShapeException>("Vjp cotangent [1] for a [3] output", () => Ad.Vjp(tanh).Compile()(x3, V(1)), "cotangent", "float64[1]"),
        Case<ShapeException>("Vjp cotangent rank 0 for a [3] output", () => Ad.Vjp(tanh).Compile()(x3, Tensor.Scalar(1, DType.Float64)), "cotangent", "float64[]"),
        Case<ShapeException>("Vjp cotangent wrong under Jit", () => Ad.Jit(Ad.Vjp(tanh))(x3, M(3, 3)), "cotangent ct", "float64[3,3]"),
        Case<ShapeException>("Vjp cotangent for a scalar Tensor output", () => Ad.Vjp(sumSin).Compile()(x3, x3), "cotangent", "float64[3]", "float64[]"),
        Case<ShapeException>("Hvp direction [1] for a [3] point", () => Ad.Hvp(sumSin).Compile()(x3, V(1)), "direction v", "float64[1]", "float64[3]"),
        Case<ShapeException>("Hvp direction [3,3] for a [3] point", () => Ad.Hvp(sumSin).Compile()(x3, M(3, 3)), "direction v", "float64[3,3]"),
        Case<ShapeException>("Hvp direction wrong under Jit", () => Ad.Jit(Ad.Hvp(sumSin))(x3, V(1)), "direction v"),
        Case<ArgumentNullException>("Vjp with a null cotangent", () => Ad.Vjp(tanh).Compile()(x3, null!), "ct", "null"),
        Case<ArgumentNullException>("Hvp with a null direction", () => Ad.Hvp(sumSin).Compile()(x3, null!), "v", "null"),
        Case<ArgumentNullException>("Jvp of a pytree with a null tangent record", () => Ad.Jvp((Expression<Func<P, Tensor>>)(p => Sum(p.W))).Compile()(new P(x3, x3), null!), "dp", "null"),
                Case<ArgumentNullException>("Jvp with a null tangent", () => Ad.Jvp(tanh).Compile()(x3, null!), "dx"),

        // ---------------------------------------------------------------- Jit
        Case<ArgumentNullException>("Jit with a null argument", () => Ad.Jit(tanh)(null!), "x", "null"),
        Case<ArgumentNullException>("Jit with a null pytree", () => Ad.Jit((Expression<Func<P, Tensor>>)(p => p.W))(null!), "null"),
        Case<ArgumentNullException>("Jit with a null leaf", () => Ad.Jit((Expression<Func<P, Tensor>>)(p => p.W + p.B))(new P(x3, null!)), "p.B", "null"),
        Case<ShapeException>("Jit with mismatched Dot", () => Ad.Jit(dot)(M(2, 3), M(2, 3)), "Dot(a, b)", "float64[2,3]"),
        Case<ShapeException>("Jit broadcasting mismatch", () => Ad.Jit((Expression<Func<Tensor, Tensor, Tensor>>)((a, b) => a + b))(V(1, 2), x3), "a + b", "float64[2]", "float64[3]"),
        Case<ShapeException>("Jit reshape to the wrong size", () => Ad.Jit((Expression<Func<Tensor, Tensor>>)(x => Reshape(x, new[] { 2, 2 })))(x3), "Reshape", "[2,2]"),
        Case<ShapeException>("Jit sum over a bad axis", () => Ad.Jit((Expression<Func<Tensor, Tensor>>)(x => Sum(x, 3)))(x3), "axis 3", "rank 1"),
        Case<ShapeException>("Jit of a grad with mismatched shapes", () => Ad.Jit(Ad.Grad((Expression<Func<Tensor, Tensor, Tensor>>)((a, b) => Sum(Dot(a, b)))))(M(2, 3), M(2, 3)), "Dot(a, b)"),
        Case<ArgumentOutOfRangeException>("Jit take out of range", () => Ad.Jit((Expression<Func<Tensor, Tensor>>)(x => Take(x, V(5))))(x3), "index 5", "-3 .. 2"),
        Case<ArgumentException>("Jit take with a fractional index", () => Ad.Jit((Expression<Func<Tensor, Tensor>>)(x => Take(x, V(1.5))))(x3), "integral", "1.5"),
        Case<ArgumentException>("Jit Show with a wrong arity", () => Ad.Show((Expression<Func<Tensor, Tensor>>)(x => x), x3, x3), "takes 1 arguments, got 2"),

        // ---------------------------------------------------------------- Vmap
        Case<VmapException>("Vmap axis on an int parameter", () => Ad.Vmap((Expression<Func<Tensor, int, Tensor>>)((x, n) => x * n), [0, 0]), "`n`", "int", "static", "null"),
        Case<VmapException>("Vmap axis on an int field via leafAxes", () => Ad.Vmap((Expression<Func<CatalogueTypes.Cfg, Tensor>>)(c => c.W * c.Layers), [null], leafAxes: new Dictionary<string, int?> { ["c.Layers"] = 0, ["c.W"] = 0 }), "`c.Layers`", "int"),
        Case<VmapException>("Vmap axis on a record with an int field", () => Ad.Vmap((Expression<Func<CatalogueTypes.Cfg, Tensor>>)(c => c.W * c.Layers), [0]), "`c.Layers`", "int"),
        Case<VmapException>("Vmap axis on a bool parameter", () => Ad.Vmap((Expression<Func<Tensor, bool, Tensor>>)((x, b) => x), [0, 0]), "`b`", "bool"),
        Case<VmapException>("Vmap axis on a double parameter", () => Ad.Vmap((Expression<Func<Tensor, double, Tensor>>)((x, s) => x * s), [0, 0]), "`s`", "double", "cannot carry a batch axis"),
        Case<VmapException>("Vmap with too few inAxes", () => Ad.Vmap(dot, [0]), "inAxes has 1 entries", "takes 2 arguments"),
        Case<VmapException>("Vmap with too many inAxes", () => Ad.Vmap(tanh, [0, 0]), "inAxes has 2 entries"),
        Case<VmapException>("Vmap with nothing batched and no size", () => Ad.Vmap(tanh, [null]), "no argument", "axisSize"),
        Case<VmapException>("Vmap with a negative axisSize", () => Ad.Vmap(tanh, [null], axisSize: -1), "axisSize is -1"),
        Case<VmapException>("Vmap leafAxes naming no leaf", () => Ad.Vmap(tanh, [0], leafAxes: new Dictionary<string, int?> { ["y"] = 0 }), "`y`", "not a leaf"),
        Case<VmapException>("Vmap outAxes count wrong", () => Ad.Vmap(tanh, [0], outAxes: [0, 0]), "outAxes has 2 entries"),
        Case<VmapException>("Vmap outAxes null for a batched output", () => Ad.Vmap(tanh, [0], outAxes: [null]), "result", "null"),
        Case<VmapException>("Vmap out axis on a double output", () => Ad.Vmap((Expression<Func<Tensor, double>>)(x => (double)Sum(x)), [0], outAxes: [0]), "double", "cannot carry a batch axis"),
        Case<VmapException>("Vmap batch sizes differ", () => Ad.Vmap(dot, [0, 0]).Compile()(M(2, 3), M(3, 3)), "a", "b", "2", "3"),
        Case<VmapException>("Vmap axis out of range for the argument", () => Ad.Vmap(tanh, [1]).Compile()(x3), "axis 1"),
        Case<VmapException>("Vmap axisSize disagrees", () => Ad.Vmap(tanh, [0], axisSize: 4).Compile()(M(2, 3)), "4", "2"),
        Case<VmapException>("Vmap of a batched double captured by a loop body", () => Ad.Vmap((Expression<Func<Tensor, Tensor>>)(x => Let((double)Sum(x), s => Fold(3, x, (i, c) => c * s))), [0]), "double", "cannot carry a batch axis"),

        // ---------------------------------------------------------------- loops
        Case<ShapeException>("Fold body changes the carry shape", () => Ad.Jit((Expression<Func<Tensor, Tensor>>)(x => Fold(3, x, (i, c) => Concatenate(new[] { c, c }, 0))))(x3), "carry"),
        Case<ShapeException>("Scan xs of rank 0", () => Ad.Jit((Expression<Func<Tensor, Tensor>>)(x => Scan(Sum(x), x, (c, r) => ValueTuple.Create(c, r)).Ys))(x3), "Scan"),
        Case<ShapeException>("Scan body changes the carry", () => Ad.Jit((Expression<Func<Tensor, Tensor>>)(x => Scan(x, x, (c, r) => ValueTuple.Create(Sum(c), r)).Carry))(x3), "carry"),
        Case<ShapeException>("While condition not a scalar", () => Ad.Jit((Expression<Func<Tensor, Tensor>>)(x => While(c => c, c => c * 0.5, x)))(x3), "condition"),
        Case<ShapeException>("While body changes the carry", () => Ad.Jit((Expression<Func<Tensor, Tensor>>)(x => While(c => Less(Sum(c), 1.0), c => Concatenate(new[] { c, c }, 0), x)))(x3), "carry"),
        Case<ArgumentNullException>("eager Scan with a null body", () => Scan(x3, x3, null!), "body"),
        Case<ArgumentNullException>("eager Scan with null xs", () => Scan(null!, x3, (c, r) => (c, r)), "xs"),
        Case<ShapeException>("eager Scan body changes the carry", () => Scan(M(2, 3), x3, (c, r) => (Sum(c), r)), "carry"),
        Case<ShapeException>("eager While condition not a scalar", () => While(c => c, c => c * 0.5, x3), "condition"),
        Case<ArgumentOutOfRangeException>("eager Fold with a negative count", () => Fold(-1, x3, (i, c) => c), "-1"),
        Case<UnsupportedExpressionException>("Fold with a negative count read", () => Ad.Jit((Expression<Func<Tensor, Tensor>>)(x => Fold(-2, x, (i, c) => c * 2)))(x3), "-2", "must not be negative"),
    ];

    public static TheoryData<string> Names => BadInputs.Names(Cases);

    [Theory, MemberData(nameof(Names))]
    public void Rejected(string name) => Check(Find(Cases, name));
}
