//! The shape of a convolution as the kernels see it (shared by the depthwise convolution, the
//! patches of im2col and the matrix product's planning).

/// The geometry of one convolution over `[batch, channels, h, w]`: a depthwise one (channels
/// in = out), or the patches of a one-group convolution ([`crate::im2col`], the matrix product).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Batch size.
    pub batch: usize,
    /// Channels (input = output).
    pub channels: usize,
    /// Input height and width.
    pub input: [usize; 2],
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Strides (rows, columns).
    pub stride: [usize; 2],
    /// Dilations (rows, columns).
    pub dilation: [usize; 2],
    /// Zero rows above / columns left of the input.
    pub pad_before: [usize; 2],
    /// Output height and width.
    pub output: [usize; 2],
}

impl Geometry {
    /// Whether [`crate::depthwise::depthwise_nchw`] computes this convolution: not for an empty one, nor for a
    /// zero stride or dilation.
    pub fn supported(&self) -> bool {
        let [oh, ow] = self.output;
        let sizes = [self.channels, self.batch, oh, ow];
        !(sizes.contains(&0) || self.stride.contains(&0) || self.dilation.contains(&0))
    }

    /// Padded input extent (rows, columns) that covers every tap of every output.
    pub(crate) fn padded(&self) -> [usize; 2] {
        let span = |i: usize| {
            let need =
                (self.output[i] - 1) * self.stride[i] + (self.kernel[i] - 1) * self.dilation[i] + 1;
            need.max(self.pad_before[i] + self.input[i])
        };
        [span(0), span(1)]
    }
}
