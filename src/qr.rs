//! A QR code of the verification URL in text, for phones: two rows of modules per line of
//! half blocks, so it fits a terminal.

use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;

/// The lines of the code, or `None` when the text cannot be encoded.
pub fn render(text: &str) -> Option<Vec<String>> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    let image = code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    Some(image.lines().map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_url_becomes_a_square_block() {
        let lines = super::render("https://example.com/device?user_code=ABCD-EFGH").unwrap();
        assert!(lines.len() > 10);
        // Square: every line as wide as the first.
        let width = lines[0].chars().count();
        assert!(lines.iter().all(|l| l.chars().count() == width));
    }
}
