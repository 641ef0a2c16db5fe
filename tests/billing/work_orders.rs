//! Work order PDFs checked by a real renderer: poppler's `pdftoppm` turns
//! each page into a PNG and `pdftotext` reads the text back. The PDFs and
//! page images stay under `target/artifacts/work-orders/` for a person to
//! look at.

use std::{
    fs,
    io::{BufReader, ErrorKind},
    path::{Path, PathBuf},
    process::Command,
};

use docket_billing::domain::{
    money::{Currency, Money},
    work_order::{ContractInfo, Customer, HoursLine, PartLine, WorkOrder, render_pdf},
};

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/artifacts/work-orders");
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a poppler tool; fails naming the package when it is not installed.
fn poppler(tool: &str, args: &[&str]) -> Vec<u8> {
    let output = match Command::new(tool).args(args).output() {
        Ok(output) => output,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            panic!("`{tool}` is not installed: install Debian's poppler-utils (apt-get install poppler-utils); tests/run.sh does")
        }
        Err(e) => panic!("could not run {tool}: {e}"),
    };
    assert!(output.status.success(), "{tool} {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

/// Writes `name.pdf` and renders its pages to `name-<n>.png` at 60 dpi; returns the images in page order.
fn render_pages(name: &str, pdf: &[u8]) -> (PathBuf, Vec<PathBuf>) {
    let dir = artifacts();
    let pdf_path = dir.join(format!("{name}.pdf"));
    // Images of an earlier run must not stand in for this one's.
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        if file.starts_with(&format!("{name}-")) && file.ends_with(".png") {
            fs::remove_file(&path).unwrap();
        }
    }
    fs::write(&pdf_path, pdf).unwrap();
    let prefix = dir.join(name);
    poppler("pdftoppm", &["-png", "-r", "60", pdf_path.to_str().unwrap(), prefix.to_str().unwrap()]);
    let mut pages: Vec<(u32, PathBuf)> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|path| {
            let file = path.file_name()?.to_str()?;
            let number = file.strip_prefix(&format!("{name}-"))?.strip_suffix(".png")?.parse().ok()?;
            Some((number, path))
        })
        .collect();
    pages.sort();
    (pdf_path, pages.into_iter().map(|(_, path)| path).collect())
}

/// A decoded page image: how big it is and which pixels carry ink (clearly
/// darker than white paper; the footer's small gray text is light at 60 dpi).
struct PageImage {
    width: usize,
    height: usize,
    inked: Vec<bool>,
}

impl PageImage {
    fn read(path: &Path) -> Self {
        let mut decoder = png::Decoder::new(BufReader::new(fs::File::open(path).unwrap()));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        let channels = match info.color_type {
            png::ColorType::Grayscale => 1,
            png::ColorType::GrayscaleAlpha => 2,
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            png::ColorType::Indexed => unreachable!("EXPAND turns palettes into RGB"),
        };
        let (width, height) = (info.width as usize, info.height as usize);
        let inked = buf[..info.buffer_size()]
            .chunks(info.line_size)
            .flat_map(|row| row[..width * channels].chunks(channels))
            .map(|px| {
                let luma = if channels >= 3 {
                    (299 * u32::from(px[0]) + 587 * u32::from(px[1]) + 114 * u32::from(px[2])) / 1000
                } else {
                    u32::from(px[0])
                };
                luma < 200
            })
            .collect();
        Self { width, height, inked }
    }

    /// Inked pixels in the rows from `from` to `to` (shares of the height, from the top).
    fn inked_in_rows(&self, from: f32, to: f32) -> usize {
        let (first, last) = ((self.height as f32 * from) as usize, (self.height as f32 * to) as usize);
        self.inked[first * self.width..last * self.width].iter().filter(|&&d| d).count()
    }

    fn inked_share(&self) -> f32 {
        self.inked_in_rows(0.0, 1.0) as f32 / self.inked.len() as f32
    }
}

/// Checks that a page image is an A4 portrait page with printed text on it,
/// including in its header and footer bands: a blank page has no inked pixel.
fn assert_printed_page(path: &Path) {
    let page = PageImage::read(path);
    // A4 at 60 dpi: 595 x 842 pt -> 496 x 702 px.
    assert!((495..=497).contains(&page.width) && (701..=703).contains(&page.height), "{path:?}: {}x{}", page.width, page.height);
    let share = page.inked_share();
    assert!(share > 0.01, "{path:?} is (nearly) blank: {:.3} % inked pixels", share * 100.0);
    assert!(page.inked_in_rows(0.0, 0.1) > 200, "{path:?} has no header");
    assert!(page.inked_in_rows(0.93, 1.0) > 200, "{path:?} has no footer");
}

fn text_of(pdf_path: &Path) -> String {
    String::from_utf8(poppler("pdftotext", &["-layout", pdf_path.to_str().unwrap(), "-"])).unwrap()
}

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::parse("EUR").unwrap())
}

fn realistic_order() -> WorkOrder {
    WorkOrder {
        business_name: "Northwind Heating & Service GmbH".into(),
        case_number: "C-000123".into(),
        subject: "Boiler stops with error E42 (pressure) after restart".into(),
        description: "The customer reports that the gas boiler in the basement stops a few minutes after every \
                      restart and shows error E42. The pressure gauge read 0.6 bar on arrival; the expansion vessel \
                      was found flat and the pressure relief valve was dripping.\n\nReplaced the valve, recharged \
                      the vessel to 1.0 bar, refilled the system to 1.8 bar and ran the boiler for an hour without \
                      a fault. Customer advised to check the pressure weekly for a month."
            .into(),
        status: "Active \u{2013} Assigned".into(),
        priority: "High".into(),
        opened_on: "2026-11-20".into(),
        customer: Customer {
            account_name: "B\u{e4}ckerei M\u{fc}ller & S\u{f6}hne".into(),
            address_lines: vec!["Hauptstra\u{df}e 5".into(), "Hinterhaus, 2. OG".into(), "10115 Berlin".into()],
            contact_name: "Jo M\u{fc}ller".into(),
            email: "jo.mueller@baeckerei-mueller.example".into(),
            phone: "+49 30 1234567".into(),
        },
        asset_description: "Gas condensing boiler Vitodens 200-W, 26 kW".into(),
        asset_serial_number: "SN-7731-XY-0042".into(),
        contract: Some(ContractInfo {
            number: "SC-2026-0042".into(),
            name: "Full service with 8-hour response".into(),
            term: "2026-01-01 to 2030-12-31".into(),
        }),
        hours: vec![
            HoursLine {
                date: "2026-11-21".into(),
                staff_name: "Sam Technician".into(),
                description: "Diagnosis on site: pressure loss traced to the expansion vessel and relief valve".into(),
                minutes: 95,
                billable: true,
            },
            HoursLine {
                date: "2026-11-21".into(),
                staff_name: "Sam Technician".into(),
                description: "Travel".into(),
                minutes: 40,
                billable: false,
            },
            HoursLine {
                date: "2026-11-22".into(),
                staff_name: "Alex Apprentice".into(),
                description: "Valve replaced, system refilled, test run".into(),
                minutes: 75,
                billable: true,
            },
        ],
        parts: vec![
            PartLine {
                part_number: "PRV-3BAR".into(),
                description: "Pressure relief valve 3 bar, 1/2\"".into(),
                quantity_milli: 1_000,
                unit_price: eur(2_450),
                billable: true,
            },
            PartLine {
                part_number: "CU-15".into(),
                description: "Copper pipe 15 mm (per metre)".into(),
                quantity_milli: 2_500,
                unit_price: eur(399),
                billable: true,
            },
            PartLine {
                part_number: "SEAL-KIT".into(),
                description: "Seal kit (goodwill)".into(),
                quantity_milli: 1_000,
                unit_price: eur(1_234),
                billable: false,
            },
        ],
        generated_at: "2026-11-23 14:05 UTC".into(),
    }
}

#[test]
fn a_work_order_renders_to_a_printed_page_with_every_detail_of_the_case() {
    let order = realistic_order();
    let (pdf_path, pages) = render_pages("realistic", &render_pdf(&order).unwrap());
    assert_eq!(pages.len(), 1, "{pages:?}");
    assert_printed_page(&pages[0]);

    let text = text_of(&pdf_path);
    for expected in [
        "Northwind Heating & Service GmbH",
        "Work order",
        "C-000123",
        "Bäckerei Müller & Söhne",
        "10115 Berlin",
        "SN-7731-XY-0042",
        "SC-2026-0042",
        "2026-01-01 to 2030-12-31",
        "Boiler stops with error E42 (pressure) after restart",
        "Active – Assigned",
        "PRV-3BAR",
        "Pressure relief valve 3 bar, 1/2\"",
        // Time: 1:35 + 0:40 + 1:15 = 3:30, of which 2:50 billable.
        "3:30",
        "2:50",
        // Parts: 24.50 + 2.5 x 3.99 (9.975 -> 9.98) + 12.34 = 46.82 EUR, of which 34.48 billable.
        "2.500",
        "9.98 EUR",
        "46.82 EUR",
        "34.48 EUR",
        "Technician",
        "Signature",
        "Page 1 of 1",
    ] {
        assert!(text.contains(expected), "{expected:?} is not in the PDF's text:\n{text}");
    }
}

#[test]
fn a_work_order_with_120_hour_lines_continues_on_numbered_pages() {
    let mut order = realistic_order();
    order.hours = (0..120)
        .map(|i| HoursLine {
            date: format!("2026-10-{:02}", i % 30 + 1),
            staff_name: if i % 3 == 0 { "Sam Technician" } else { "Alex Apprentice" }.into(),
            description: format!("Maintenance visit {i}"),
            minutes: 15 + (i % 8) * 15,
            billable: i % 4 != 0,
        })
        .collect();
    let total: i64 = order.hours.iter().map(|h| h.minutes).sum();
    let billable: i64 = order.hours.iter().filter(|h| h.billable).map(|h| h.minutes).sum();

    let (pdf_path, pages) = render_pages("many-hours", &render_pdf(&order).unwrap());
    assert!(pages.len() >= 3, "120 lines on {} pages", pages.len());
    for page in &pages {
        assert_printed_page(page);
    }
    let text = text_of(&pdf_path);
    let count = pages.len();
    for n in 1..=count {
        assert!(text.contains(&format!("Page {n} of {count}")), "page {n} is not numbered:\n{text}");
    }
    assert!(text.contains("Booked hours (continued)"));
    assert_eq!(text.matches("Time (h:mm)").count(), text.matches("Booked hours (continued)").count() + 1);
    for i in [0, 59, 119] {
        assert!(text.contains(&format!("Maintenance visit {i}")), "line {i} is missing");
    }
    let h_mm = |m: i64| format!("{}:{:02}", m / 60, m % 60);
    assert!(text.contains(&h_mm(total)) && text.contains(&h_mm(billable)), "totals {} and {}", h_mm(total), h_mm(billable));
    assert!(text.contains("SN-7731-XY-0042") && text.contains("Signature"));
}

/// Through the API: a case with a contract, hours and a part gets its work
/// order as a PDF that prints every detail; bad and unknown cases are refused.
async fn get_work_order_prints_the_case_as_it_stands(app: crate::common::TestApp) {
    use docket_proto::{billing::v1 as pb, case::v1 as case_pb};

    use crate::{
        common::{AGENT, VIEWER, assert_field_error},
        contracts::{contract_for, create_contract},
        fixtures::{customer, new_case, staff_user},
    };

    let acme = customer(&app).await;
    let contract = create_contract(&app, contract_for(&acme, "Gold maintenance")).await;
    let case = app
        .cases(AGENT)
        .create_case(case_pb::CreateCaseRequest {
            case: Some(case_pb::Case {
                asset_description: "Conveyor controller".into(),
                asset_serial_number: "CX-1001".into(),
                ..new_case(&acme, "Conveyor stops (again)")
            }),
            idempotency_key: String::new(),
            sender: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(case.service_contract_id, contract.id, "the covering contract was attached");
    let tech = staff_user(&app, "Terry Technician").await;
    let mut work = app.work(AGENT);
    work.book_hours(pb::BookHoursRequest {
        hours: Some(pb::BookedHours {
            staff_id: tech.id.clone(),
            case_id: case.id.clone(),
            work_date: "2026-11-23".into(),
            minutes: 95,
            billable: true,
            description: "Replaced the controller board".into(),
            ..Default::default()
        }),
        idempotency_key: String::new(),
    })
    .await
    .unwrap();
    work.add_service_part(pb::AddServicePartRequest {
        part: Some(pb::ServicePart {
            case_id: case.id.clone(),
            part_number: "CB-7".into(),
            description: "Controller board".into(),
            quantity_milli: 1_000,
            unit_price: Some(docket_proto::case::v1::Money { amount_minor: 12_990, currency: "EUR".into() }),
            billable: true,
            ..Default::default()
        }),
        idempotency_key: String::new(),
    })
    .await
    .unwrap();

    let order = app.work(VIEWER).get_work_order(pb::GetWorkOrderRequest { case_id: case.id.clone() }).await.unwrap().into_inner();
    assert_eq!(order.case_number, case.case_number);
    assert_eq!(order.file_name, format!("work-order-{}.pdf", case.case_number));
    let name = format!("api-{}-{:?}", case.case_number, app.backend).to_lowercase();
    let (pdf_path, pages) = render_pages(&name, &order.pdf);
    assert_eq!(pages.len(), 1);
    assert_printed_page(&pages[0]);
    let text = text_of(&pdf_path);
    for expected in [
        case.case_number.as_str(),
        "Conveyor stops (again)",
        acme.account.name.as_str(),
        acme.contact.name.as_str(),
        "CX-1001",
        contract.contract_number.as_str(),
        "Terry Technician",
        "Replaced the controller board",
        "1:35",
        "CB-7",
        "129.90",
        "Acme Field Service GmbH",
        "Signature",
    ] {
        assert!(text.contains(expected), "the work order lacks {expected:?}:\n{text}");
    }

    let refused = app.work(VIEWER).get_work_order(pb::GetWorkOrderRequest { case_id: "C-000001".into() }).await.unwrap_err();
    assert_field_error(&refused, tonic::Code::InvalidArgument, "case_id");
    let missing = uuid::Uuid::now_v7().to_string();
    let refused = app.work(VIEWER).get_work_order(pb::GetWorkOrderRequest { case_id: missing }).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::NotFound);
}

crate::on_both_backends!(get_work_order_prints_the_case_as_it_stands);
