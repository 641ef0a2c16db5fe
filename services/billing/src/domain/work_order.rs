//! The printable work order of a case: one A4 PDF with the case and customer
//! details, the asset and its serial number, the contract, the booked hours
//! and parts used, and signature lines for the technician and the customer.
//!
//! [`render_pdf`] is a pure function from [`WorkOrder`] to PDF bytes; the
//! gRPC layer gathers the data. Text is set in the PDF standard fonts
//! Helvetica and Helvetica-Bold (nothing embedded, see [`helvetica`]), long
//! text wraps, long tables continue on further pages under their repeated
//! header, and every page is numbered "Page i of n". Amounts are computed
//! with [`super::money`]: integer minor units, rounded once per line.

mod helvetica;

use pdf_writer::{Content, Name, Pdf, Rect, Ref, Str, TextStr};

use super::money::{Money, MoneyError, quantity_cost};

/// Everything printed on a work order, already in the words the reader sees
/// (dates and statuses formatted by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkOrder {
    /// Who issues the work order, in the page header.
    pub business_name: String,
    /// The case number, e.g. `C-000123`.
    pub case_number: String,
    pub subject: String,
    /// May be long and have line breaks: it wraps and flows over pages.
    pub description: String,
    pub status: String,
    pub priority: String,
    pub opened_on: String,
    pub customer: Customer,
    pub asset_description: String,
    pub asset_serial_number: String,
    /// `None`: the case is not covered by a service contract.
    pub contract: Option<ContractInfo>,
    pub hours: Vec<HoursLine>,
    pub parts: Vec<PartLine>,
    /// When the work order was printed, e.g. `2026-11-23 14:05 UTC`.
    pub generated_at: String,
}

/// The customer the work is done for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Customer {
    pub account_name: String,
    /// The postal address, one line each.
    pub address_lines: Vec<String>,
    pub contact_name: String,
    pub email: String,
    pub phone: String,
}

/// The service contract that covers the case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractInfo {
    pub number: String,
    pub name: String,
    /// e.g. `2026-01-01 to 2030-12-31`.
    pub term: String,
}

/// One booking of hours on the case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoursLine {
    /// The day worked, e.g. `2026-11-23`.
    pub date: String,
    pub staff_name: String,
    pub description: String,
    pub minutes: i64,
    pub billable: bool,
}

/// One service part used on the case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartLine {
    pub part_number: String,
    pub description: String,
    /// Thousandths of a unit (2500 = 2.5).
    pub quantity_milli: i64,
    pub unit_price: Money,
    pub billable: bool,
}

/// A duration as `h:mm` (`90` -> `1:30`), the way booked time is shown.
pub fn format_minutes(minutes: i128) -> String {
    let sign = if minutes < 0 { "-" } else { "" };
    let abs = minutes.unsigned_abs();
    format!("{sign}{}:{:02}", abs / 60, abs % 60)
}

/// A quantity in thousandths with three decimals (`2500` -> `2.500`).
pub fn format_quantity(quantity_milli: i64) -> String {
    let sign = if quantity_milli < 0 { "-" } else { "" };
    let abs = quantity_milli.unsigned_abs();
    format!("{sign}{}.{:03}", abs / 1000, abs % 1000)
}

/// The work order as a PDF document (A4 portrait).
///
/// Fails only when a part's amount or a total does not fit in money's
/// integer range; totals of parts in several currencies are shown per
/// currency.
pub fn render_pdf(order: &WorkOrder) -> Result<Vec<u8>, MoneyError> {
    let parts = PartsTable::new(&order.parts)?;
    let mut layout = Layout::new(order);
    layout.header(order);
    layout.customer_asset_and_contract(order);
    layout.case(order);
    layout.table(&hours_table(&order.hours));
    layout.table(&parts.table);
    layout.signatures();
    Ok(layout.finish(order))
}

// ---------------------------------------------------------------------------
// Page geometry, in PDF points (1/72 inch). y grows upwards from the bottom.

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 42.0;
const CONTENT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;
/// The top of the content on the first page.
const TOP: f32 = PAGE_HEIGHT - MARGIN;
/// The top of the content on a continuation page, below its running header.
const CONTINUED_TOP: f32 = TOP - 26.0;
/// Nothing but the footer goes below this line.
const BOTTOM: f32 = 56.0;
const FOOTER_BASELINE: f32 = 30.0;

const BODY_SIZE: f32 = 9.0;
const LEADING: f32 = 12.0;
const SECTION_SIZE: f32 = 10.5;
const SECTION_HEIGHT: f32 = 20.0;
const LABEL_WIDTH: f32 = 78.0;
const CELL_PAD: f32 = 4.0;
const GAP: f32 = 14.0;

const TEXT_GRAY: f32 = 0.0;
const LABEL_GRAY: f32 = 0.38;
const RULE_GRAY: f32 = 0.75;
const HEADER_FILL_GRAY: f32 = 0.9;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Font {
    Regular,
    Bold,
}

impl Font {
    /// The name of the font in each page's resources.
    fn resource(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"F1"),
            Font::Bold => Name(b"F2"),
        }
    }

    fn widths(self) -> &'static [u16; 224] {
        match self {
            Font::Regular => &helvetica::REGULAR,
            Font::Bold => &helvetica::BOLD,
        }
    }

    /// The width of WinAnsi `text` at `size`, in points.
    fn width(self, text: &[u8], size: f32) -> f32 {
        // At most 1015 per byte: exact in f32 for any text a page can hold.
        helvetica::width(self.widths(), text) as f32 * size / 1000.0
    }
}

/// WinAnsi `text` broken into lines no wider than `width`: at line breaks,
/// between words, and inside a word too long for a line. Always at least
/// one line (an empty one for empty text).
fn wrap(text: &[u8], font: Font, size: f32, width: f32) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    for paragraph in text.split(|&b| b == b'\n') {
        let mut line: Vec<u8> = Vec::new();
        for word in paragraph.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
            let candidate_width = if line.is_empty() {
                font.width(word, size)
            } else {
                font.width(&line, size) + font.width(b" ", size) + font.width(word, size)
            };
            if candidate_width <= width {
                if !line.is_empty() {
                    line.push(b' ');
                }
                line.extend_from_slice(word);
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // The word starts a line; break it where it overflows.
            for &byte in word {
                if !line.is_empty() && font.width(&line, size) + font.width(&[byte], size) > width {
                    lines.push(std::mem::take(&mut line));
                }
                line.push(byte);
            }
        }
        lines.push(line);
    }
    lines
}

/// `text` on one line of at most `width`, cut with an ellipsis if longer.
fn fit(text: &[u8], font: Font, size: f32, width: f32) -> Vec<u8> {
    let flat: Vec<u8> = text.iter().map(|&b| if b == b'\n' { b' ' } else { b }).collect();
    if font.width(&flat, size) <= width {
        return flat;
    }
    const ELLIPSIS: u8 = 0x85;
    let mut cut = flat;
    while !cut.is_empty() && font.width(&cut, size) + font.width(&[ELLIPSIS], size) > width {
        cut.pop();
    }
    cut.push(ELLIPSIS);
    cut
}

/// Text drawn at a baseline.
fn show(content: &mut Content, x: f32, baseline: f32, font: Font, size: f32, gray: f32, text: &[u8]) {
    if text.is_empty() {
        return;
    }
    content.set_fill_gray(gray);
    content.begin_text();
    content.set_font(font.resource(), size);
    content.next_line(x, baseline);
    content.show(Str(text));
    content.end_text();
}

/// Text drawn at a baseline so that it ends at `right`.
fn show_right(content: &mut Content, right: f32, baseline: f32, font: Font, size: f32, gray: f32, text: &[u8]) {
    show(content, right - font.width(text, size), baseline, font, size, gray, text);
}

fn rule(content: &mut Content, x1: f32, x2: f32, y: f32, gray: f32, line_width: f32) {
    content.set_stroke_gray(gray);
    content.set_line_width(line_width);
    content.move_to(x1, y);
    content.line_to(x2, y);
    content.stroke();
}

/// The baseline of a body text line whose line box starts at `top`.
fn baseline(top: f32) -> f32 {
    top - LEADING + 3.0
}

// ---------------------------------------------------------------------------
// Blocks of labelled values (customer, asset, contract, case).

/// One line of a block of labelled values.
enum BlockLine {
    /// A block title with a rule under it.
    Title(Vec<u8>),
    /// One line of a value; the label is on the value's first line only.
    Row { label: Option<Vec<u8>>, value: Vec<u8>, bold: bool },
    /// Space between two blocks stacked in one column.
    Gap,
}

impl BlockLine {
    fn height(&self) -> f32 {
        match self {
            BlockLine::Title(_) => SECTION_HEIGHT,
            BlockLine::Row { .. } => LEADING,
            BlockLine::Gap => GAP,
        }
    }
}

/// Builds the lines of labelled-value blocks for a column `width` wide.
struct Block {
    width: f32,
    lines: Vec<BlockLine>,
}

impl Block {
    fn new(width: f32) -> Self {
        Self { width, lines: Vec::new() }
    }

    fn title(mut self, title: &str) -> Self {
        if !self.lines.is_empty() {
            self.lines.push(BlockLine::Gap);
        }
        self.lines.push(BlockLine::Title(helvetica::encode(title)));
        self
    }

    fn row(self, label: &str, value: &str) -> Self {
        self.row_in(label, value, Font::Regular)
    }

    fn row_in(mut self, label: &str, value: &str, font: Font) -> Self {
        let value = if value.trim().is_empty() { "\u{2014}" } else { value };
        let wrapped = wrap(&helvetica::encode(value), font, BODY_SIZE, self.width - LABEL_WIDTH);
        let mut label = Some(helvetica::encode(label));
        for line in wrapped {
            self.lines.push(BlockLine::Row { label: label.take(), value: line, bold: font == Font::Bold });
        }
        self
    }

    fn height(&self) -> f32 {
        self.lines.iter().map(BlockLine::height).sum()
    }
}

// ---------------------------------------------------------------------------
// Tables (booked hours, parts).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

struct Column {
    title: &'static str,
    /// `None`: takes what the other columns leave.
    width: Option<f32>,
    align: Align,
}

struct Table {
    title: &'static str,
    columns: Vec<Column>,
    rows: Vec<Vec<String>>,
    /// Shown instead of the table when there are no rows.
    empty: &'static str,
    /// Bold lines under the rows: a label, and a value in the last column.
    totals: Vec<(String, String)>,
}

impl Table {
    fn widths(&self) -> Vec<f32> {
        let fixed: f32 = self.columns.iter().filter_map(|c| c.width).sum();
        let flexible = self.columns.iter().filter(|c| c.width.is_none()).count().max(1) as f32;
        self.columns.iter().map(|c| c.width.unwrap_or((CONTENT_WIDTH - fixed) / flexible)).collect()
    }
}

fn hours_table(hours: &[HoursLine]) -> Table {
    let total: i128 = hours.iter().map(|h| i128::from(h.minutes)).sum();
    let billable: i128 = hours.iter().filter(|h| h.billable).map(|h| i128::from(h.minutes)).sum();
    Table {
        title: "Booked hours",
        columns: vec![
            Column { title: "Date", width: Some(64.0), align: Align::Left },
            Column { title: "Staff", width: Some(100.0), align: Align::Left },
            Column { title: "Work done", width: None, align: Align::Left },
            Column { title: "Billable", width: Some(46.0), align: Align::Left },
            Column { title: "Time (h:mm)", width: Some(64.0), align: Align::Right },
        ],
        rows: hours
            .iter()
            .map(|h| {
                vec![
                    h.date.clone(),
                    h.staff_name.clone(),
                    h.description.clone(),
                    yes_no(h.billable).to_owned(),
                    format_minutes(i128::from(h.minutes)),
                ]
            })
            .collect(),
        empty: "No hours booked",
        totals: if hours.is_empty() {
            Vec::new()
        } else {
            vec![("Total time".to_owned(), format_minutes(total)), ("Billable time".to_owned(), format_minutes(billable))]
        },
    }
}

/// The parts table with its amounts computed up front, so that a money
/// error surfaces before any page is laid out.
struct PartsTable {
    table: Table,
}

impl PartsTable {
    fn new(parts: &[PartLine]) -> Result<Self, MoneyError> {
        let mut rows = Vec::with_capacity(parts.len());
        let mut total: Vec<Money> = Vec::new();
        let mut billable: Vec<Money> = Vec::new();
        for part in parts {
            let amount = quantity_cost(part.unit_price, part.quantity_milli)?;
            add_by_currency(&mut total, amount)?;
            add_by_currency(&mut billable, if part.billable { amount } else { Money::zero(amount.currency) })?;
            rows.push(vec![
                part.part_number.clone(),
                part.description.clone(),
                yes_no(part.billable).to_owned(),
                format_quantity(part.quantity_milli),
                part.unit_price.to_string(),
                amount.to_string(),
            ]);
        }
        let totals = total
            .iter()
            .map(|m| ("Total".to_owned(), m.to_string()))
            .chain(billable.iter().map(|m| ("Billable".to_owned(), m.to_string())))
            .collect();
        Ok(Self {
            table: Table {
                title: "Parts",
                columns: vec![
                    Column { title: "Part number", width: Some(82.0), align: Align::Left },
                    Column { title: "Description", width: None, align: Align::Left },
                    Column { title: "Billable", width: Some(46.0), align: Align::Left },
                    Column { title: "Quantity", width: Some(52.0), align: Align::Right },
                    Column { title: "Unit price", width: Some(76.0), align: Align::Right },
                    Column { title: "Amount", width: Some(84.0), align: Align::Right },
                ],
                rows,
                empty: "No parts used",
                totals,
            },
        })
    }
}

/// Adds `amount` to the running total of its currency.
fn add_by_currency(totals: &mut Vec<Money>, amount: Money) -> Result<(), MoneyError> {
    match totals.iter_mut().find(|t| t.currency == amount.currency) {
        Some(total) => *total = total.checked_add(amount)?,
        None => totals.push(amount),
    }
    Ok(())
}

fn yes_no(flag: bool) -> &'static str {
    if flag { "Yes" } else { "No" }
}

// ---------------------------------------------------------------------------
// The layout: pages filled from the top, a new page when the next piece does
// not fit above the footer.

struct Layout {
    finished: Vec<Content>,
    page: Content,
    /// The top of the free space on the current page.
    y: f32,
    /// "Business · Work order C-000123", on top of continuation pages.
    running_title: Vec<u8>,
    case_number: Vec<u8>,
}

impl Layout {
    fn new(order: &WorkOrder) -> Self {
        Self {
            finished: Vec::new(),
            page: Content::new(),
            y: TOP,
            running_title: helvetica::encode(&order.business_name),
            case_number: helvetica::encode(&order.case_number),
        }
    }

    fn new_page(&mut self) {
        let full = std::mem::replace(&mut self.page, Content::new());
        self.finished.push(full);
        let top = TOP - 10.0;
        let right = PAGE_WIDTH - MARGIN;
        let mut title = b"Work order ".to_vec();
        title.extend_from_slice(&self.case_number);
        let title_width = Font::Bold.width(&title, BODY_SIZE);
        show_right(&mut self.page, right, top, Font::Bold, BODY_SIZE, TEXT_GRAY, &title);
        let business = fit(&self.running_title, Font::Regular, BODY_SIZE, CONTENT_WIDTH - title_width - GAP);
        show(&mut self.page, MARGIN, top, Font::Regular, BODY_SIZE, LABEL_GRAY, &business);
        rule(&mut self.page, MARGIN, right, top - 6.0, RULE_GRAY, 0.5);
        self.y = CONTINUED_TOP;
    }

    /// Starts a new page unless `height` fits above the footer. A piece taller
    /// than a whole page starts on the current page if it is not empty.
    fn ensure(&mut self, height: f32) {
        if self.y - height < BOTTOM && self.y < CONTINUED_TOP {
            self.new_page();
        }
    }

    fn header(&mut self, order: &WorkOrder) {
        let right = PAGE_WIDTH - MARGIN;
        let title = b"Work order";
        let title_width = Font::Bold.width(title, 18.0);
        show_right(&mut self.page, right, TOP - 16.0, Font::Bold, 18.0, TEXT_GRAY, title);
        let business = fit(&self.running_title, Font::Bold, 15.0, CONTENT_WIDTH - title_width - GAP);
        show(&mut self.page, MARGIN, TOP - 16.0, Font::Bold, 15.0, TEXT_GRAY, &business);

        let mut case = b"Case ".to_vec();
        case.extend_from_slice(&self.case_number);
        let case = fit(&case, Font::Bold, 12.0, CONTENT_WIDTH / 2.0);
        let case_width = Font::Bold.width(&case, 12.0);
        show_right(&mut self.page, right, TOP - 36.0, Font::Bold, 12.0, TEXT_GRAY, &case);
        let mut generated = b"Date: ".to_vec();
        generated.extend_from_slice(&helvetica::encode(&order.generated_at));
        let generated = fit(&generated, Font::Regular, BODY_SIZE, CONTENT_WIDTH - case_width - GAP);
        show(&mut self.page, MARGIN, TOP - 36.0, Font::Regular, BODY_SIZE, LABEL_GRAY, &generated);
        rule(&mut self.page, MARGIN, right, TOP - 46.0, TEXT_GRAY, 1.2);
        self.y = TOP - 58.0;
    }

    fn customer_asset_and_contract(&mut self, order: &WorkOrder) {
        let column_width = (CONTENT_WIDTH - 2.0 * GAP) / 2.0;
        let customer = &order.customer;
        let left = Block::new(column_width)
            .title("Customer")
            .row("Account", &customer.account_name)
            .row("Address", &customer.address_lines.join("\n"))
            .row("Contact", &customer.contact_name)
            .row("Email", &customer.email)
            .row("Phone", &customer.phone);
        let right = Block::new(column_width).title("Asset").row("Asset", &order.asset_description).row_in(
            "Serial number",
            &order.asset_serial_number,
            Font::Bold,
        );
        let right = match &order.contract {
            Some(contract) => right
                .title("Service contract")
                .row_in("Number", &contract.number, Font::Bold)
                .row("Name", &contract.name)
                .row("Term", &contract.term),
            None => right.title("Service contract").row("Number", "Not covered by a service contract"),
        };
        let height = left.height().max(right.height());
        if height <= CONTINUED_TOP - BOTTOM {
            self.ensure(height);
            let top = self.y;
            self.draw_block_lines(MARGIN, column_width, &left.lines, false);
            self.y = top;
            self.draw_block_lines(MARGIN + column_width + 2.0 * GAP, column_width, &right.lines, false);
            self.y = top - height - GAP;
        } else {
            // Taller than a page (a very long address): one after the other,
            // breaking pages line by line.
            self.draw_block_lines(MARGIN, column_width, &left.lines, true);
            self.y -= GAP;
            self.draw_block_lines(MARGIN, column_width, &right.lines, true);
            self.y -= GAP;
        }
    }

    fn case(&mut self, order: &WorkOrder) {
        let block = Block::new(CONTENT_WIDTH)
            .title("Case")
            .row_in("Subject", &order.subject, Font::Bold)
            .row("Status", &order.status)
            .row("Priority", &order.priority)
            .row("Opened", &order.opened_on)
            .row("Description", &order.description);
        self.draw_block_lines(MARGIN, CONTENT_WIDTH, &block.lines, true);
        self.y -= GAP;
    }

    /// Draws block lines from the current `y`; with `flow`, a line that does
    /// not fit goes to the next page (a title takes its first row along).
    fn draw_block_lines(&mut self, x: f32, width: f32, lines: &[BlockLine], flow: bool) {
        for line in lines {
            if flow {
                let keep = match line {
                    BlockLine::Title(_) => SECTION_HEIGHT + LEADING,
                    other => other.height(),
                };
                self.ensure(keep);
            }
            match line {
                BlockLine::Title(title) => {
                    let title = fit(title, Font::Bold, SECTION_SIZE, width);
                    show(&mut self.page, x, self.y - 12.0, Font::Bold, SECTION_SIZE, TEXT_GRAY, &title);
                    rule(&mut self.page, x, x + width, self.y - 16.0, RULE_GRAY, 0.6);
                }
                BlockLine::Row { label, value, bold } => {
                    let at = baseline(self.y);
                    if let Some(label) = label {
                        let label = fit(label, Font::Regular, BODY_SIZE, LABEL_WIDTH - CELL_PAD);
                        show(&mut self.page, x, at, Font::Regular, BODY_SIZE, LABEL_GRAY, &label);
                    }
                    let font = if *bold { Font::Bold } else { Font::Regular };
                    show(&mut self.page, x + LABEL_WIDTH, at, font, BODY_SIZE, TEXT_GRAY, value);
                }
                BlockLine::Gap => {}
            }
            self.y -= line.height();
        }
    }

    fn section_title(&mut self, title: &[u8]) {
        show(&mut self.page, MARGIN, self.y - 12.0, Font::Bold, SECTION_SIZE, TEXT_GRAY, title);
        self.y -= SECTION_HEIGHT - 4.0;
    }

    fn table_header(&mut self, table: &Table, widths: &[f32]) {
        let height = LEADING + 4.0;
        self.page.set_fill_gray(HEADER_FILL_GRAY);
        self.page.rect(MARGIN, self.y - height, CONTENT_WIDTH, height);
        self.page.fill_nonzero();
        let at = self.y - height + 4.5;
        let mut x = MARGIN;
        for (column, width) in table.columns.iter().zip(widths) {
            let title = fit(&helvetica::encode(column.title), Font::Bold, BODY_SIZE - 0.5, width - 2.0 * CELL_PAD);
            match column.align {
                Align::Left => show(&mut self.page, x + CELL_PAD, at, Font::Bold, BODY_SIZE - 0.5, TEXT_GRAY, &title),
                Align::Right => {
                    show_right(&mut self.page, x + width - CELL_PAD, at, Font::Bold, BODY_SIZE - 0.5, TEXT_GRAY, &title)
                }
            }
            x += width;
        }
        self.y -= height;
    }

    /// Continues `table` on a new page: title "(continued)" and the header again.
    fn continue_table(&mut self, table: &Table, widths: &[f32]) {
        self.new_page();
        let mut title = helvetica::encode(table.title);
        title.extend_from_slice(b" (continued)");
        self.section_title(&title);
        self.table_header(table, widths);
    }

    fn table(&mut self, table: &Table) {
        let widths = table.widths();
        let cells: Vec<Vec<Vec<Vec<u8>>>> = table
            .rows
            .iter()
            .map(|row| {
                row.iter()
                    .zip(&widths)
                    .map(|(cell, width)| wrap(&helvetica::encode(cell), Font::Regular, BODY_SIZE, width - 2.0 * CELL_PAD))
                    .collect()
            })
            .collect();
        // The title and header go with (at least the start of) the first row.
        let first_row = cells.first().map_or(1, |row| row.iter().map(Vec::len).max().unwrap_or(1)).min(3);
        self.ensure(SECTION_HEIGHT + 2.0 * LEADING + first_row as f32 * LEADING + 4.0);
        self.section_title(&helvetica::encode(table.title));
        if cells.is_empty() {
            let at = baseline(self.y - 2.0);
            show(&mut self.page, MARGIN + CELL_PAD, at, Font::Regular, BODY_SIZE, LABEL_GRAY, &helvetica::encode(table.empty));
            self.y -= LEADING + 2.0 + GAP;
            return;
        }
        self.table_header(table, &widths);
        for row in &cells {
            let lines = row.iter().map(Vec::len).max().unwrap_or(1);
            let mut done = 0;
            while done < lines {
                let room = ((self.y - BOTTOM - 4.0) / LEADING).floor().max(0.0) as usize;
                let fits_on_a_fresh_page = (lines - done) as f32 * LEADING + 4.0 <= CONTINUED_TOP - BOTTOM - 40.0;
                if room == 0 || (room < lines - done && fits_on_a_fresh_page) {
                    self.continue_table(table, &widths);
                    continue;
                }
                let take = room.min(lines - done);
                let mut x = MARGIN;
                for ((cell, column), width) in row.iter().zip(&table.columns).zip(&widths) {
                    for (i, line) in cell.iter().skip(done).take(take).enumerate() {
                        let at = baseline(self.y - 2.0 - i as f32 * LEADING);
                        match column.align {
                            Align::Left => show(&mut self.page, x + CELL_PAD, at, Font::Regular, BODY_SIZE, TEXT_GRAY, line),
                            Align::Right => {
                                show_right(&mut self.page, x + width - CELL_PAD, at, Font::Regular, BODY_SIZE, TEXT_GRAY, line)
                            }
                        }
                    }
                    x += width;
                }
                self.y -= take as f32 * LEADING + 4.0;
                rule(&mut self.page, MARGIN, MARGIN + CONTENT_WIDTH, self.y, RULE_GRAY, 0.4);
                done += take;
            }
        }
        let last_width = widths.last().copied().unwrap_or(0.0);
        let value_right = MARGIN + CONTENT_WIDTH - CELL_PAD;
        let label_right = MARGIN + CONTENT_WIDTH - last_width - CELL_PAD;
        for (i, (label, value)) in table.totals.iter().enumerate() {
            if self.y - LEADING - 4.0 < BOTTOM {
                self.continue_table(table, &widths);
            }
            if i == 0 {
                rule(&mut self.page, label_right - 120.0, MARGIN + CONTENT_WIDTH, self.y, TEXT_GRAY, 0.8);
            }
            let at = baseline(self.y - 3.0);
            let label = fit(&helvetica::encode(label), Font::Bold, BODY_SIZE, 200.0);
            show_right(&mut self.page, label_right, at, Font::Bold, BODY_SIZE, TEXT_GRAY, &label);
            let value = fit(&helvetica::encode(value), Font::Bold, BODY_SIZE, CONTENT_WIDTH - last_width);
            show_right(&mut self.page, value_right, at, Font::Bold, BODY_SIZE, TEXT_GRAY, &value);
            self.y -= LEADING + 3.0;
        }
        self.y -= GAP;
    }

    fn signatures(&mut self) {
        const FIELD_SPACING: f32 = 26.0;
        let fields: [&[u8]; 3] = [b"Name", b"Date", b"Signature"];
        let statement_height = LEADING + 6.0;
        let boxes_height = LEADING + fields.len() as f32 * FIELD_SPACING - 4.0;
        self.ensure(SECTION_HEIGHT - 4.0 + statement_height + boxes_height);
        self.section_title(b"Signatures");
        show(
            &mut self.page,
            MARGIN,
            baseline(self.y),
            Font::Regular,
            BODY_SIZE,
            LABEL_GRAY,
            b"The work and the parts listed above were carried out and received.",
        );
        self.y -= statement_height;
        let box_width = (CONTENT_WIDTH - 2.0 * GAP) / 2.0;
        for (i, who) in [b"Technician".as_slice(), b"Customer".as_slice()].into_iter().enumerate() {
            let x = MARGIN + i as f32 * (box_width + 2.0 * GAP);
            show(&mut self.page, x, baseline(self.y), Font::Bold, BODY_SIZE, TEXT_GRAY, who);
            for (j, field) in fields.iter().enumerate() {
                // A line to write on, its label just above it.
                let line_y = self.y - LEADING - (j as f32 + 1.0) * FIELD_SPACING + 8.0;
                show(&mut self.page, x, line_y + 3.0, Font::Regular, BODY_SIZE, LABEL_GRAY, field);
                rule(&mut self.page, x + 56.0, x + box_width, line_y, TEXT_GRAY, 0.6);
            }
        }
        self.y -= boxes_height;
    }

    /// Numbers the pages, writes the document and returns its bytes.
    fn finish(mut self, order: &WorkOrder) -> Vec<u8> {
        self.finished.push(self.page);
        let count = self.finished.len();
        let mut pdf = Pdf::new();
        let mut next_id = Ref::new(1);
        let catalog_id = next_id.bump();
        let tree_id = next_id.bump();
        let regular_id = next_id.bump();
        let bold_id = next_id.bump();
        let info_id = next_id.bump();
        let page_ids: Vec<(Ref, Ref)> = (0..count).map(|_| (next_id.bump(), next_id.bump())).collect();

        pdf.catalog(catalog_id).pages(tree_id);
        pdf.pages(tree_id).kids(page_ids.iter().map(|(page, _)| *page)).count(i32::try_from(count).unwrap_or(i32::MAX));
        for (id, name) in [(regular_id, "Helvetica"), (bold_id, "Helvetica-Bold")] {
            pdf.type1_font(id).base_font(Name(name.as_bytes())).encoding_predefined(Name(b"WinAnsiEncoding"));
        }
        let title = format!("Work order {}", order.case_number);
        pdf.document_info(info_id).title(TextStr(&title)).creator(TextStr(&order.business_name)).producer(TextStr("Docket"));

        let mut footer_left = b"Work order ".to_vec();
        footer_left.extend_from_slice(&self.case_number);
        footer_left.extend_from_slice(b" \xb7 ");
        footer_left.extend_from_slice(&self.running_title);
        for (number, (mut content, (page_id, content_id))) in self.finished.into_iter().zip(page_ids).enumerate() {
            let page_label = format!("Page {} of {count}", number + 1).into_bytes();
            let label_width = Font::Regular.width(&page_label, 8.0);
            rule(&mut content, MARGIN, PAGE_WIDTH - MARGIN, FOOTER_BASELINE + 12.0, RULE_GRAY, 0.5);
            show_right(&mut content, PAGE_WIDTH - MARGIN, FOOTER_BASELINE, Font::Regular, 8.0, LABEL_GRAY, &page_label);
            let left = fit(&footer_left, Font::Regular, 8.0, CONTENT_WIDTH - label_width - GAP);
            show(&mut content, MARGIN, FOOTER_BASELINE, Font::Regular, 8.0, LABEL_GRAY, &left);

            let mut page = pdf.page(page_id);
            page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT)).parent(tree_id).contents(content_id);
            page.resources().fonts().pair(Font::Regular.resource(), regular_id).pair(Font::Bold.resource(), bold_id);
            drop(page);
            pdf.stream(content_id, &content.finish());
        }
        pdf.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Currency;

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::parse("EUR").unwrap())
    }

    fn order() -> WorkOrder {
        WorkOrder {
            business_name: "Northwind Field Service".into(),
            case_number: "C-000123".into(),
            subject: "Boiler shows error E42 after restart".into(),
            description: "The boiler in the basement stops after a few minutes.".into(),
            status: "Active \u{2013} Assigned".into(),
            priority: "High".into(),
            opened_on: "2026-11-20".into(),
            customer: Customer {
                account_name: "Acme Bakery GmbH".into(),
                address_lines: vec!["Hauptstra\u{df}e 5".into(), "10115 Berlin".into()],
                contact_name: "Jo Baker".into(),
                email: "jo@acme.example".into(),
                phone: "+49 30 1234567".into(),
            },
            asset_description: "Boiler Vitodens 200".into(),
            asset_serial_number: "SN-7731-XY".into(),
            contract: Some(ContractInfo {
                number: "SC-2026-0042".into(),
                name: "Full service".into(),
                term: "2026-01-01 to 2030-12-31".into(),
            }),
            hours: vec![
                HoursLine {
                    date: "2026-11-21".into(),
                    staff_name: "Sam Tech".into(),
                    description: "Diagnosis".into(),
                    minutes: 90,
                    billable: true,
                },
                HoursLine {
                    date: "2026-11-22".into(),
                    staff_name: "Sam Tech".into(),
                    description: "Travel".into(),
                    minutes: 45,
                    billable: false,
                },
            ],
            parts: vec![PartLine {
                part_number: "CB-7".into(),
                description: "Cable".into(),
                quantity_milli: 2_500,
                unit_price: eur(399),
                billable: true,
            }],
            generated_at: "2026-11-23 14:05 UTC".into(),
        }
    }

    /// The literal strings of the text shown on all pages, decoded per PDF's
    /// rules (escapes and hex strings), in the order they are drawn.
    fn shown_strings(pdf: &[u8]) -> Vec<Vec<u8>> {
        let mut strings = Vec::new();
        let mut i = 0;
        while i < pdf.len() {
            match pdf[i] {
                b'(' => {
                    let mut depth = 1;
                    let mut s = Vec::new();
                    i += 1;
                    while depth > 0 {
                        match pdf[i] {
                            b'\\' => {
                                i += 1;
                                s.push(match pdf[i] {
                                    b'n' => b'\n',
                                    b'r' => b'\r',
                                    b't' => b'\t',
                                    other => other,
                                });
                            }
                            b'(' => {
                                depth += 1;
                                s.push(b'(');
                            }
                            b')' => {
                                depth -= 1;
                                if depth > 0 {
                                    s.push(b')');
                                }
                            }
                            other => s.push(other),
                        }
                        i += 1;
                    }
                    if pdf[i..].starts_with(b" Tj") {
                        strings.push(s);
                    }
                }
                b'<' if pdf.get(i + 1) != Some(&b'<') && pdf.get(i.wrapping_sub(1)) != Some(&b'<') => {
                    let end = i + pdf[i..].iter().position(|&b| b == b'>').unwrap();
                    let hex = std::str::from_utf8(&pdf[i + 1..end]).unwrap();
                    let s: Vec<u8> = (0..hex.len()).step_by(2).map(|k| u8::from_str_radix(&hex[k..k + 2], 16).unwrap()).collect();
                    if pdf[end + 1..].starts_with(b" Tj") {
                        strings.push(s);
                    }
                    i = end + 1;
                }
                _ => i += 1,
            }
        }
        strings
    }

    fn page_count(pdf: &[u8]) -> usize {
        pdf.windows(12).filter(|w| w.starts_with(b"/Type /Page") && w[11] != b's').count()
    }

    #[test]
    fn a_work_order_is_a_one_page_pdf_with_every_part_of_the_case() {
        let pdf = render_pdf(&order()).unwrap();
        assert!(pdf.starts_with(b"%PDF-"), "{:?}", &pdf[..8]);
        assert!(pdf.trim_ascii_end().ends_with(b"%%EOF"));
        assert_eq!(page_count(&pdf), 1);
        let shown = shown_strings(&pdf);
        for expected in [
            b"Northwind Field Service".as_slice(),
            b"Work order",
            b"Case C-000123",
            b"Acme Bakery GmbH",
            b"Hauptstra\xdfe 5",
            b"10115 Berlin",
            b"SN-7731-XY",
            b"SC-2026-0042",
            b"2026-01-01 to 2030-12-31",
            b"Boiler shows error E42 after restart",
            b"Active \x96 Assigned",
            b"Diagnosis",
            b"CB-7",
            b"Technician",
            b"Customer",
            b"Signature",
            b"Page 1 of 1",
        ] {
            assert!(shown.iter().any(|s| s == expected), "{:?} not shown", String::from_utf8_lossy(expected));
        }
    }

    #[test]
    fn numbers_are_formatted_as_h_mm_three_decimals_and_money() {
        assert_eq!(format_minutes(0), "0:00");
        assert_eq!(format_minutes(135), "2:15");
        assert_eq!(format_minutes(6_005), "100:05");
        assert_eq!(format_minutes(-90), "-1:30");
        assert_eq!(format_quantity(2_500), "2.500");
        assert_eq!(format_quantity(1), "0.001");
        assert_eq!(format_quantity(-2_500), "-2.500");

        let mut order = order();
        order.parts.push(PartLine {
            part_number: "VLV-3".into(),
            description: "Valve".into(),
            quantity_milli: 1_000,
            unit_price: eur(1_234),
            billable: false,
        });
        let shown = shown_strings(&render_pdf(&order).unwrap());
        let has = |s: &str| shown.iter().any(|x| x == s.as_bytes());
        // Hours: 1:30 + 0:45, of which 1:30 billable.
        assert!(has("1:30") && has("0:45") && has("2:15"), "{shown:?}");
        // 2.5 x 3.99 EUR = 9.975 -> 9.98 EUR (rounded once, half away from zero); 1 x 12.34 EUR.
        assert!(has("2.500") && has("3.99 EUR") && has("9.98 EUR"));
        assert!(has("1.000") && has("12.34 EUR"));
        assert!(has("22.32 EUR"), "total of both parts");
        assert!(shown.iter().filter(|s| s.as_slice() == b"9.98 EUR").count() == 2, "the line and the billable total");
    }

    #[test]
    fn parts_in_two_currencies_have_a_total_each_and_overflow_is_an_error() {
        let mut order = order();
        order.parts.push(PartLine {
            part_number: "US-1".into(),
            description: "Imported sensor".into(),
            quantity_milli: 2_000,
            unit_price: Money::new(1_050, Currency::parse("USD").unwrap()),
            billable: true,
        });
        let shown = shown_strings(&render_pdf(&order).unwrap());
        assert_eq!(shown.iter().filter(|s| s.as_slice() == b"21.00 USD").count(), 3, "line, total and billable total");

        order.parts.push(PartLine {
            part_number: "X".into(),
            description: "Too expensive".into(),
            quantity_milli: 1_000,
            unit_price: eur(i64::MAX),
            billable: true,
        });
        assert_eq!(render_pdf(&order), Err(MoneyError::Overflow));
    }

    #[test]
    fn many_hour_lines_continue_on_numbered_pages_with_the_header_repeated() {
        let mut order = order();
        order.hours = (0..120)
            .map(|i| HoursLine {
                date: format!("2026-10-{:02}", i % 28 + 1),
                staff_name: "Sam Tech".into(),
                description: format!("Visit {i}"),
                minutes: 30,
                billable: i % 2 == 0,
            })
            .collect();
        let pdf = render_pdf(&order).unwrap();
        let pages = page_count(&pdf);
        assert!(pages >= 3, "120 lines fit on {pages} pages");
        let shown = shown_strings(&pdf);
        for page in 1..=pages {
            let label = format!("Page {page} of {pages}");
            assert!(shown.iter().any(|s| s == label.as_bytes()), "{label} missing");
        }
        // The table header appears once per page the table spans.
        let headers = shown.iter().filter(|s| s.as_slice() == b"Time (h:mm)").count();
        let continued = shown.iter().filter(|s| s.as_slice() == b"Booked hours (continued)").count();
        assert!(continued >= 1);
        assert_eq!(headers, continued + 1);
        // Every line is there, in order, and the totals: 60 h, 30 h billable.
        let visits: Vec<&Vec<u8>> = shown.iter().filter(|s| s.starts_with(b"Visit ")).collect();
        let expected: Vec<Vec<u8>> = (0..120).map(|i| format!("Visit {i}").into_bytes()).collect();
        assert_eq!(visits.into_iter().cloned().collect::<Vec<_>>(), expected);
        assert!(shown.iter().any(|s| s == b"60:00") && shown.iter().any(|s| s == b"30:00"));
    }

    #[test]
    fn long_text_wraps_within_its_column_and_a_huge_description_flows_over_pages() {
        let word_lines = wrap(b"alpha beta gamma delta", Font::Regular, BODY_SIZE, 60.0);
        assert!(word_lines.len() > 1);
        for line in &word_lines {
            assert!(Font::Regular.width(line, BODY_SIZE) <= 60.0, "{line:?}");
        }
        assert_eq!(word_lines.join(&b' '), b"alpha beta gamma delta");
        // A word longer than the line is broken inside.
        let long = wrap(&[b'W'; 80], Font::Regular, BODY_SIZE, 50.0);
        assert!(long.len() > 5 && long.iter().all(|l| Font::Regular.width(l, BODY_SIZE) <= 50.0));
        assert_eq!(long.concat(), vec![b'W'; 80]);
        // Line breaks are kept, blank lines too.
        assert_eq!(wrap(b"a\n\nb", Font::Regular, BODY_SIZE, 100.0), vec![b"a".to_vec(), Vec::new(), b"b".to_vec()]);

        let mut order = order();
        order.description = (0..400).map(|i| format!("Sentence number {i} of a very long report.")).collect::<Vec<_>>().join(" ");
        let pdf = render_pdf(&order).unwrap();
        assert!(page_count(&pdf) >= 2);
        let shown = shown_strings(&pdf);
        assert!(shown.iter().any(|s| s.ends_with(b"Sentence number 399 of a very long report.")));
        assert!(shown.iter().any(|s| s == b"Signature"));
    }

    /// The baselines of all text, from the `x y Td` operations.
    fn baselines(pdf: &[u8]) -> Vec<f32> {
        pdf.split(|&b| b == b'\n')
            .filter_map(|line| line.strip_suffix(b" Td"))
            .map(|operands| std::str::from_utf8(operands).unwrap().split(' ').nth(1).unwrap().parse().unwrap())
            .collect()
    }

    #[test]
    fn blocks_and_rows_taller_than_a_page_flow_on_and_never_run_into_the_footer() {
        let mut order = order();
        order.customer.address_lines = (0..90).map(|i| format!("Address line {i}")).collect();
        order.hours[0].description = (0..1_500).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ");
        order.parts = (0..40)
            .map(|i| PartLine {
                part_number: format!("P-{i}"),
                description: "Gasket".into(),
                quantity_milli: 1_000,
                unit_price: eur(100),
                billable: true,
            })
            .collect();
        let pdf = render_pdf(&order).unwrap();
        let shown = shown_strings(&pdf);
        let has = |s: &[u8]| shown.iter().any(|x| x == s);
        assert!(has(b"Address line 0") && has(b"Address line 89") && has(b"SN-7731-XY"));
        // The customer starts on the first page, right under the header.
        let first_stream = &pdf[pdf.windows(7).position(|w| w == b"stream\n").unwrap()..];
        let first_page = shown_strings(&first_stream[..first_stream.windows(9).position(|w| w == b"endstream").unwrap()]);
        assert!(first_page.iter().any(|s| s == b"Acme Bakery GmbH"), "{first_page:?}");
        assert!(shown.iter().any(|s| s.ends_with(b" w1499")), "the end of the long cell");
        assert!(has(b"P-0") && has(b"P-39") && has(b"40.00 EUR") && has(b"Signature"));
        let footers = baselines(&pdf).into_iter().filter(|&y| y == FOOTER_BASELINE).count();
        assert_eq!(footers, 2 * page_count(&pdf), "a page label and a running footer per page");
        for y in baselines(&pdf).into_iter().filter(|&y| y != FOOTER_BASELINE) {
            assert!((BOTTOM..=TOP).contains(&y), "text at y = {y}");
        }
    }

    #[test]
    fn empty_tables_say_so() {
        let mut order = order();
        order.hours.clear();
        order.parts.clear();
        order.contract = None;
        let shown = shown_strings(&render_pdf(&order).unwrap());
        let has = |s: &str| shown.iter().any(|x| x == s.as_bytes());
        assert!(has("No hours booked") && has("No parts used") && has("Not covered by a service contract"));
        assert!(!has("Time (h:mm)") && !has("Total"));
    }

    #[test]
    fn special_characters_appear_as_written_and_the_rest_falls_back() {
        let mut order = order();
        order.subject = "Valve (left) leaks \\ see photo) ( note".into();
        order.customer.account_name = "Zo\u{eb}\u{2019}s Caf\u{e9} \u{2014} \u{6771}\u{4eac} \u{1f680}".into();
        order.asset_serial_number = "SN<1>%&/[x]".into();
        let pdf = render_pdf(&order).unwrap();
        let shown = shown_strings(&pdf);
        let has = |s: &[u8]| shown.iter().any(|x| x == s);
        assert!(has(b"Valve (left) leaks \\ see photo) ( note"), "{shown:?}");
        assert!(has(b"Zo\xeb\x92s Caf\xe9 \x97 ?? ?"));
        assert!(has(b"SN<1>%&/[x]"));
        // The unbalanced parentheses and the backslash are escaped in the file.
        let needle = br"(Valve \(left\) leaks \\ see photo\) \( note) Tj";
        assert!(pdf.windows(needle.len()).any(|w| w == needle));
    }
}
