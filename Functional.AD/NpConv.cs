namespace Functional.AD;

public static partial class Np
{
    /// <summary>
    /// PyTorch's <c>conv1d</c> (a cross-correlation, no bias): stride, zero padding on both sides, dilation and groups the
    /// same along every spatial axis; <c>Lax.Conv</c> underneath, so it differentiates, batches and compiles as it does.
    /// Example: <c>Np.Conv1d(x, w, 1, 1)</c> with x <c>[8, 4, 50]</c> and w <c>[6, 4, 3]</c> has shape <c>[8, 6, 50]</c>.
    /// </summary>
    /// <param name="x">The input [N, C, W], float.</param>
    /// <param name="w">The kernel [O, C / groups, kW].</param>
    /// <param name="stride">The stride.</param>
    /// <param name="padding">Zeros added on both sides of each spatial axis.</param>
    /// <param name="dilation">The kernel dilation.</param>
    /// <param name="groups">Groups of channels (depthwise: C).</param>
    /// <returns>The convolution [N, O, spatial...].</returns>
    /// <exception cref="ShapeException">Ranks, channels or groups do not fit, or the kernel is larger than the padded input.</exception>
    public static Tensor Conv1d(Tensor x, Tensor w, int stride, int padding, int dilation, int groups) => ConvOps.Conv(x, w, ConvParams.Torch(1, stride, padding, dilation, groups));

    /// <summary>PyTorch's <c>conv1d</c> with dilation 1 and one group (see the overload with every argument).</summary>
    /// <param name="x">The input [N, C, W].</param><param name="w">The kernel [O, C / groups, kW].</param><param name="stride">The stride.</param><param name="padding">Zeros on both sides.</param>
    /// <returns>The convolution.</returns>
    /// <exception cref="ShapeException">The shapes do not fit.</exception>
    public static Tensor Conv1d(Tensor x, Tensor w, int stride, int padding) => ConvOps.Conv(x, w, ConvParams.Torch(1, stride, padding, 1, 1));

    /// <summary>PyTorch's <c>conv1d</c> with stride 1, no padding, dilation 1 and one group (see the overload with every argument).</summary>
    /// <param name="x">The input [N, C, W].</param><param name="w">The kernel [O, C / groups, kW].</param>
    /// <returns>The convolution.</returns>
    /// <exception cref="ShapeException">The shapes do not fit.</exception>
    public static Tensor Conv1d(Tensor x, Tensor w) => ConvOps.Conv(x, w, ConvParams.Torch(1, 1, 0, 1, 1));

    /// <summary>
    /// PyTorch's <c>conv2d</c> (a cross-correlation, no bias): stride, zero padding on both sides, dilation and groups the
    /// same along every spatial axis; <c>Lax.Conv</c> underneath, so it differentiates, batches and compiles as it does.
    /// Example: <c>Np.Conv2d(x, w, 1, 1)</c> with x <c>[64, 16, 28, 28]</c> and w <c>[32, 16, 3, 3]</c> has shape <c>[64, 32, 28, 28]</c>.
    /// </summary>
    /// <param name="x">The input [N, C, H, W], float.</param>
    /// <param name="w">The kernel [O, C / groups, kH, kW].</param>
    /// <param name="stride">The stride.</param>
    /// <param name="padding">Zeros added on both sides of each spatial axis.</param>
    /// <param name="dilation">The kernel dilation.</param>
    /// <param name="groups">Groups of channels (depthwise: C).</param>
    /// <returns>The convolution [N, O, spatial...].</returns>
    /// <exception cref="ShapeException">Ranks, channels or groups do not fit, or the kernel is larger than the padded input.</exception>
    public static Tensor Conv2d(Tensor x, Tensor w, int stride, int padding, int dilation, int groups) => ConvOps.Conv(x, w, ConvParams.Torch(2, stride, padding, dilation, groups));

    /// <summary>PyTorch's <c>conv2d</c> with dilation 1 and one group (see the overload with every argument).</summary>
    /// <param name="x">The input [N, C, H, W].</param><param name="w">The kernel [O, C / groups, kH, kW].</param><param name="stride">The stride.</param><param name="padding">Zeros on both sides.</param>
    /// <returns>The convolution.</returns>
    /// <exception cref="ShapeException">The shapes do not fit.</exception>
    public static Tensor Conv2d(Tensor x, Tensor w, int stride, int padding) => ConvOps.Conv(x, w, ConvParams.Torch(2, stride, padding, 1, 1));

    /// <summary>PyTorch's <c>conv2d</c> with stride 1, no padding, dilation 1 and one group (see the overload with every argument).</summary>
    /// <param name="x">The input [N, C, H, W].</param><param name="w">The kernel [O, C / groups, kH, kW].</param>
    /// <returns>The convolution.</returns>
    /// <exception cref="ShapeException">The shapes do not fit.</exception>
    public static Tensor Conv2d(Tensor x, Tensor w) => ConvOps.Conv(x, w, ConvParams.Torch(2, 1, 0, 1, 1));

    /// <summary>
    /// PyTorch's <c>conv3d</c> (a cross-correlation, no bias): stride, zero padding on both sides, dilation and groups the
    /// same along every spatial axis; <c>Lax.Conv</c> underneath, so it differentiates, batches and compiles as it does.
    /// Example: <c>Np.Conv3d(x, w, 2, 1)</c> with x <c>[2, 3, 8, 8, 8]</c> and w <c>[4, 3, 3, 3, 3]</c> has shape <c>[2, 4, 4, 4, 4]</c>.
    /// </summary>
    /// <param name="x">The input [N, C, D, H, W], float.</param>
    /// <param name="w">The kernel [O, C / groups, kD, kH, kW].</param>
    /// <param name="stride">The stride.</param>
    /// <param name="padding">Zeros added on both sides of each spatial axis.</param>
    /// <param name="dilation">The kernel dilation.</param>
    /// <param name="groups">Groups of channels (depthwise: C).</param>
    /// <returns>The convolution [N, O, spatial...].</returns>
    /// <exception cref="ShapeException">Ranks, channels or groups do not fit, or the kernel is larger than the padded input.</exception>
    public static Tensor Conv3d(Tensor x, Tensor w, int stride, int padding, int dilation, int groups) => ConvOps.Conv(x, w, ConvParams.Torch(3, stride, padding, dilation, groups));

    /// <summary>PyTorch's <c>conv3d</c> with dilation 1 and one group (see the overload with every argument).</summary>
    /// <param name="x">The input [N, C, D, H, W].</param><param name="w">The kernel [O, C / groups, kD, kH, kW].</param><param name="stride">The stride.</param><param name="padding">Zeros on both sides.</param>
    /// <returns>The convolution.</returns>
    /// <exception cref="ShapeException">The shapes do not fit.</exception>
    public static Tensor Conv3d(Tensor x, Tensor w, int stride, int padding) => ConvOps.Conv(x, w, ConvParams.Torch(3, stride, padding, 1, 1));

    /// <summary>PyTorch's <c>conv3d</c> with stride 1, no padding, dilation 1 and one group (see the overload with every argument).</summary>
    /// <param name="x">The input [N, C, D, H, W].</param><param name="w">The kernel [O, C / groups, kD, kH, kW].</param>
    /// <returns>The convolution.</returns>
    /// <exception cref="ShapeException">The shapes do not fit.</exception>
    public static Tensor Conv3d(Tensor x, Tensor w) => ConvOps.Conv(x, w, ConvParams.Torch(3, 1, 0, 1, 1));

    /// <summary>
    /// PyTorch's <c>conv_transpose1d</c> (no bias): the gradient of <c>Conv1d</c> with respect to its input, each output
    /// size <c>(y - 1) stride - 2 padding + dilation (k - 1) + outputPadding + 1</c>; <c>Lax.ConvTransposeLhs</c>
    /// underneath. Example: <c>Np.ConvTranspose2d(x, w, 2, 1, 1, 1, 1)</c> with x <c>[1, 4, 5, 5]</c> and w <c>[4, 2, 3, 3]</c> has shape <c>[1, 2, 10, 10]</c>.
    /// </summary>
    /// <param name="x">The input [N, C_in, W], float.</param>
    /// <param name="w">The kernel [C_in, C_out / groups, kW] (PyTorch's layout for transposed convolutions).</param>
    /// <param name="stride">The stride of the convolution it transposes.</param>
    /// <param name="padding">The padding of the convolution it transposes (removed from both ends).</param>
    /// <param name="outputPadding">Extra positions at the high end (less than the stride).</param>
    /// <param name="dilation">The kernel dilation.</param>
    /// <param name="groups">Groups of channels.</param>
    /// <returns>The transposed convolution [N, C_out, spatial...].</returns>
    /// <exception cref="ShapeException">Ranks, channels or groups do not fit.</exception>
    public static Tensor ConvTranspose1d(Tensor x, Tensor w, int stride, int padding, int outputPadding, int dilation, int groups) =>
        ConvOps.ConvTransposeLhs(x, w, ConvParams.TorchTranspose(1, stride, padding, outputPadding, dilation, groups));

    /// <summary>PyTorch's <c>conv_transpose1d</c> with no output padding, dilation 1 and one group (see the overload with every argument).</summary>
    /// <param name="x">The input [N, C_in, W].</param><param name="w">The kernel [C_in, C_out / groups, kW].</param><param name="stride">The stride.</param><param name="padding">The padding removed from both ends.</param>
    /// <returns>The transposed convolution.</returns>
    /// <exception cref="ShapeException">The shapes do not fit.</exception>
    public static Tensor ConvTranspose1d(Tensor x, Tensor w, int stride, int padding) => ConvOps.ConvTransposeLhs(x, w, ConvParams.TorchTranspose(1, stride, padding, 0, 1, 1));

    /// <summary>PyTorch's <c>conv_transpose1d</c> with stride 1 and no padding (see the overload with every argument).</summary>
    /// <param name="x">The input [N, C_in, W].</param><param name="w">The kernel [C_in, C_out / groups, kW].</param>
    /// <returns>The transposed convolution.</returns>
    /// <exception cref="ShapeException">The shapes do not fit.</exception>
    public static Tensor ConvTranspose1d(Tensor x, Tensor w) => ConvOps.ConvTransposeLhs(x, w, ConvParams.TorchTranspose(1, 1, 0, 0, 1, 1));

    /// <summary>
    /// PyTorch's <c>conv_transpose2d</c> (no bias): the gradient of <c>Conv2d</c> with respect to its input, each output
    /// size <c>(y - 1) stride - 2 padding + dilation (k - 1) + outputPadding + 1</c>; <c>Lax.ConvTransposeLhs</c>
    /// underneath. Example: <c>Np.ConvTranspose2d(x, w, 2, 1, 1, 1, 1)</c> with x <c>[1, 4, 5, 5]</c> and w <c>[4, 2, 3, 3]</c> has shape <c>[1, 2, 10, 10]</c>.
    /// </summary>
    /// <param name="x">The input [N, C_in, H, W], float.</param>
    /// <param name="w">The kernel [C_in, C_out / groups, kH, kW] (PyTorch's layout for transposed convolutions).</param>
    /// <param name="stride">The stride of the convolution it transposes.</param>
    /// <param name="padding">The padding of the convolution it transposes (removed from both ends).</param>
    /// <param name="outputPadding">Extra positions at the high end (less than the stride).</param>
    /// <param name="dilation">The kernel dilation.</param>
    /// <param name="groups">Groups of channels.</param>
    /// <returns>The transposed convolution [N, C_out, spatial...].</returns>
    /// <exception cref="ShapeException">Ranks, channels or groups do not fit.</exception>
    public static Tensor ConvTranspose2d(Tensor x, Tensor w, int stride, int padding, int outputPadding, int dilation, int groups) =>
        ConvOps.ConvTransposeLhs(x, w, ConvParams.TorchTranspose(2, stride, padding, outputPadding, dilation, groups));

    /// <summary>PyTorch's <c>conv_transpose2d</c> with no output padding, dilation 1 and one group (see the overload with every argument).</summary>
    /// <param name="x">The input [N, C_in, H, W].</param><param name="w">The kernel [C_in, C_out / groups, kH, kW].</param><param name="stride">The stride.</param><param name="padding">The padding removed from both ends.</param>
    /// <returns>The transposed convolution.</returns>
    /// <exception cref="ShapeException">The shapes do not fit.</exception>
    public static Tensor ConvTranspose2d(Tensor x, Tensor w, int stride, int padding) => ConvOps.ConvTransposeLhs(x, w, ConvParams.TorchTranspose(2, stride, padding, 0, 1, 1));

    /// <summary>PyTorch's <c>conv_transpose2d</c> with stride 1 and no padding (see the overload with every argument).</summary>
    /// <param name="x">The input [N, C_in, H, W].</param><param name="w">The kernel [C_in, C_out / groups, kH, kW].</param>
    /// <returns>The transposed convolution.</returns>
    /// <exception cref="ShapeException">The shapes do not fit.</exception>
    public static Tensor ConvTranspose2d(Tensor x, Tensor w) => ConvOps.ConvTransposeLhs(x, w, ConvParams.TorchTranspose(2, 1, 0, 0, 1, 1));

}
