using System.Linq.Expressions;
using Xunit;
using static Functional.AD.Np;
using static Functional.AD.Properties.BadInputs;

namespace Functional.AD.Properties;

/// <summary>Catalogue, numpy spellings: null axes, array_split, and the indexer's ellipsis, new axes, index tensors and masks.</summary>
public sealed class BadInputCatalogueNumpy
{
    static readonly Tensor x3 = new(new[] { 1.0, 2, 3 });
    static readonly Tensor m23 = new Tensor(new double[,] { { 1, 0, 1 }, { 0, 1, 0 } }).AsType(DType.Bool);
    static readonly Tensor x23 = new(new double[,] { { 1, 2, 3 }, { 4, 5, 6 } });
    static readonly Tensor i2 = new Tensor(new[] { 1.0, 0 }).AsType(DType.Int32);

    public static readonly BadInput[] Cases =
    [
        Case<ShapeException>("Np.Sort with a null-able axis out of range", () => Sort(x3, (int?)3), "Np.Argsort", "axis: 3", "float64[3]"),
        Case<ShapeException>("Np.Cumsum with a null-able axis out of range", () => Cumsum(x3, (int?)1, false), "Np.Cumsum", "axis: 1", "float64[3]"),
        Case<ArgumentOutOfRangeException>("Np.ArraySplit into 0 sections", () => ArraySplit(x3, 0, 0), "Np.ArraySplit", "sections must be 1 or more"),
        Case<ShapeException>("Np.ArraySplit along a missing axis", () => ArraySplit(x3, 2, 1), "Np.ArraySplit", "float64[3]"),
        Case<UnsupportedExpressionException>("Np.ArraySplit piece outside the pieces", () => ((Expression<Func<Tensor, Tensor>>)(v => ArraySplit(v, 2, 0)[2])).Jit(), "ArraySplit(v, 2, 0)[2]", "outside the 2 pieces"),
        Case<ShapeException>("two Ix.Ellipsis in one index", () => x23[Ix.Ellipsis, 0, Ix.Ellipsis], "Ix.Ellipsis", "float64[2,3]", "may appear once"),
        Case<ShapeException>("too many indices around an Ix.Ellipsis", () => x23[0, 0, 0, Ix.Ellipsis], "3 indices for a tensor of rank 2", "Ix.NewAxis"),
        Case<ShapeException>("a value that does not fit an update with Ix.NewAxis", () => x23.At(Ix.NewAxis, 0).Set(Full([2, 3], 1.0)), "x.At(Ix.NewAxis, 0)", "[1,3]"),
        Case<ShapeException>("a bool mask in a jitted function", () => ((Expression<Func<Tensor, Tensor, Tensor>>)((v, m) => Sum(v[m], null, false))).Jit()(x23, m23), "v[m]", "bool", "Np.Where"),
        Case<ShapeException>("a bool mask that does not fit x", () => x23[Ix.All, m23], "bool[2,3]", "x's lengths"),
        Case<ShapeException>("a bool mask mixed with a range", () => x23[Ix.Range(0, 1), m23], "Ix.All"),
        Case<ShapeException>("Np.Take with bool indices", () => Take(x23, new Tensor(new[] { 1.0, 0, 1 }).AsType(DType.Bool), 1), "Np.Take", "bool", "Np.Where"),
        Case<UnsupportedExpressionException>("an index tensor mixed with a range in an expression", () => ((Expression<Func<Tensor, Tensor, Tensor>>)((v, i) => v[i, Ix.Range(0, 2)])).Jit(), "Ix.All", "Np.Take"),
        Case<UnsupportedExpressionException>("an index tensor in x.At in an expression", () => ((Expression<Func<Tensor, Tensor, Tensor>>)((v, i) => v.At(i).Set(0.0))).Jit(), "x.At(...)", "Lax.ScatterAdd"),
        Case<ShapeException>("an index tensor in x.At eagerly", () => x23.At(i2).Set(new Tensor(0.0)), "x.At", "Lax.ScatterAdd"),
        Case<ArgumentNullException>("Ix.FromTensor(null)", () => Ix.FromTensor(null!), "indices"),
    ];

    public static TheoryData<string> Names => BadInputs.Names(Cases);

    [Theory, MemberData(nameof(Names))]
    public void Rejected(string name) => Check(Find(Cases, name));
}
