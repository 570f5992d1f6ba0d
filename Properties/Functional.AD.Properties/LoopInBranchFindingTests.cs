using System.Linq.Expressions;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// Found while testing loop derivatives on Torch: <c>Ad.Grad</c> of a function with <c>Np.Fold</c> inside a branch of
/// <c>c ? a : b</c> threw "No coercion operator is defined between types Tensor and Aval". Transposing the branch needs
/// the aval of the loop's tangent (then a FoldLin node); its witness was lost when the branch was rebuilt, and the
/// fallback for nodes with sub-graphs (meant for conditionals) ran the loop with a body returning an aval, which gave a
/// tensor. Fix (<c>Transforms/Transpose.cs</c>, <c>LinearAval</c>): a loop over tangents is run on zero tangents and its
/// result's aval taken (today the tangent loop is a Scan with several results: the aval of the one a <c>Proj</c> reads).
/// </summary>
public class LoopInBranchFindingTests
{
    static Tensor X => Tensor.FromArray(new[] { 0.3, -0.7, 1.1 }, DType.Float64);
    static Tensor W => Tensor.FromArray(new[] { 0.9, 0.5, -0.4 }, DType.Float64);

    public static IEnumerable<object[]> Cases => [["no capture"], ["captured w"], ["w as the carry"], ["scan"], ["while"]];

    static Expression<Func<Tensor, Tensor, Tensor>> Function(string name) => name switch
    {
        "no capture" => (x, w) => (double)Sum(w, null, false) > 0 ? Sum(Np.Fold(3, x, (double i, Tensor c) => Sin(c)), null, false) : Sum(x * w, null, false),
        "captured w" => (x, w) => (double)Sum(x, null, false) > 0 ? Sum(Np.Fold(3, x, (double i, Tensor c) => Sin(c * w)), null, false) : Sum(x * w, null, false),
        "w as the carry" => (x, w) => (double)Sum(w, null, false) > 0 ? Sum(Np.Fold(3, w, (double i, Tensor c) => Sin(c * x)), null, false) : Sum(x * w, null, false),
        "scan" => (x, w) => (double)Sum(w, null, false) > 0 ? Sum(Scan(Reshape(x, new[] { 3, 1 }), w, (Tensor c, Tensor r) => Tuple(Sin(c * r), c)).Item1, null, false) : Sum(x * w, null, false),
        _ => (x, w) => (double)Sum(w, null, false) > 0 ? Sum(While(c => Max(c, null, false) < 5.0, c => c * 1.5, x * w + 3), null, false) : Sum(x * w, null, false),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gradient_of_a_loop_in_a_branch_matches_central_differences(string name)
    {
        var f = Function(name);
        var g = f.Grad().Compile()(X, W).ToDoubleArray();
        var plain = f.Compile();
        for (int k = 0; k < 3; k++)
        {
            var e = new double[3]; e[k] = 1e-6;
            var d = Tensor.FromArray(e, DType.Float64);
            double num = ((double)plain(X + d, W) - (double)plain(X - d, W)) / 2e-6;
            Assert.True(Math.Abs(num - g[k]) < 1e-7, $"{name}, component {k}: {g[k]:R} vs differences {num:R}");
        }
    }
}
